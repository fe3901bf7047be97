"""Build the C kernels in csrc/ and their Cython wrappers in fastnn/.

OpenMP is used when the compiler accepts it; otherwise the kernels build serial
(FASTNN_NO_OPENMP=1 forces that).  Each fastnn/_name.pyx becomes one extension
module; the C files it links are named in its own "# distutils: sources = ..."
line, next to the code that calls them.
"""
import os
import glob
import tempfile
import subprocess

import numpy
from setuptools import setup, Extension
from setuptools.command.build_ext import build_ext
from Cython.Build import cythonize

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join("csrc")


def _compiler_accepts_openmp(compiler):
    """Compile and link a tiny OpenMP program with the compiler setuptools will use."""
    if os.environ.get("FASTNN_NO_OPENMP"):
        return False
    flag = "/openmp" if compiler.compiler_type == "msvc" else "-fopenmp"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "omp_probe.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n")
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
            compiler.link_executable(objs, "omp_probe", output_dir=tmp,
                                     extra_postargs=[] if flag == "/openmp" else [flag])
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def build_extensions(self):
        use_omp = _compiler_accepts_openmp(self.compiler)
        msvc = self.compiler.compiler_type == "msvc"
        for ext in self.extensions:
            if msvc:
                ext.extra_compile_args += ["/O2"] + (["/openmp"] if use_omp else [])
            else:
                # -fno-math-errno: sqrt need not set errno (no kernel reads
                # it), so GCC can vectorize it (RMSprop and Adam: 4x faster).
                ext.extra_compile_args += ["-O3", "-std=c99", "-fno-strict-aliasing",
                                           "-fno-math-errno"]
                if use_omp:
                    ext.extra_compile_args.append("-fopenmp")
                    ext.extra_link_args.append("-fopenmp")
            if use_omp:
                ext.define_macros.append(("FASTNN_OPENMP", "1"))
        print("fastnn: building with OpenMP" if use_omp else "fastnn: building without OpenMP (serial kernels)")
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
