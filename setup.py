"""Build the C kernels in csrc/ and their Cython wrappers in fastnn/.

Each fastnn/_name.pyx becomes one extension module; the C files it links are
named in its own "# distutils: sources = ..." line, next to the code that
calls them.  Threads are fastnn's own pool (csrc/pool.c, POSIX threads);
where there are none (MSVC), or with FASTNN_NO_THREADS=1, every kernel runs
on the calling thread.
"""
import os
import glob

import numpy
from setuptools import setup, Extension
from setuptools.command.build_ext import build_ext
from Cython.Build import cythonize

CSRC = os.path.join("csrc")


class BuildExt(build_ext):
    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        serial = bool(os.environ.get("FASTNN_NO_THREADS"))
        # There is no build probe to fail: the pool needs only POSIX threads,
        # so the compiler and linker flags a user sets (sanitizers, LDFLAGS)
        # cannot turn threading off quietly, as an OpenMP link probe could.
        for ext in self.extensions:
            if serial:
                ext.define_macros.append(("FNN_NO_THREADS", "1"))
            if msvc:
                ext.extra_compile_args += ["/O2"]
            else:
                # -fno-math-errno: sqrt need not set errno (no kernel reads
                # it), so GCC can vectorize it (RMSprop and Adam: 4x faster).
                ext.extra_compile_args += ["-O3", "-std=c99", "-fno-strict-aliasing",
                                           "-fno-math-errno", "-pthread"]
                ext.extra_link_args += ["-pthread"]
        if serial or msvc:
            # not a probe's quiet fallback: only asked for, or without POSIX threads
            self.warn("fastnn: building WITHOUT threads: every kernel will run on the calling "
                      "thread (" + ("FASTNN_NO_THREADS is set" if serial else "no POSIX threads "
                                    "with MSVC") + ")")
        else:
            print("fastnn: building with fastnn's thread pool (POSIX threads)")
        super().build_extensions()


def _extensions():
    exts = []
    for pyx in sorted(glob.glob(os.path.join("fastnn", "_*.pyx"))):
        name = "fastnn." + os.path.splitext(os.path.basename(pyx))[0]
        exts.append(Extension(
            name,
            sources=[pyx],
            # headers hold the kernel bodies (*_impl.h): a change must rebuild
            depends=sorted(glob.glob(os.path.join(CSRC, "*.h"))),
            include_dirs=[CSRC, numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        ))
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
            "embedsignature": True,
        },
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
