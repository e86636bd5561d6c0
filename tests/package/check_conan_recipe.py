#!/usr/bin/env python3
"""A STATIC check of the Conan 2 recipe (conanfile.py) and its test_package/conanfile.py.

Conan is not installable here, so this script replaces the `conan` modules the recipes import
with minimal fakes, imports the recipes and calls their methods as Conan would, then checks
what they declare: attributes, options -> requirements, package_id() clearing the info,
validate() rejecting C++17, the CMake options generate() sets (against CMakeLists.txt),
package(), and package_info() (properties, components named like the targets of
cmake/detseg-config.cmake.in, their requirements). It proves that the recipes say what they
should; it does not run Conan, CMakeDeps or the test_package build (ctest's
package.conan_test_package builds test_package/ against the project's own install).

    python3 tests/package/check_conan_recipe.py <repository root>

Exit status: 0 if every check passes, 1 if one fails, 77 (skip) if this Python is too old.
"""

import importlib.util
import os
import re
import sys
import types

if sys.version_info < (3, 8):
    print("check_conan_recipe: needs Python >= 3.8, skipping")
    sys.exit(77)

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))

# ------------------------------------------------------------------------------------------
# Fakes of the parts of the Conan 2 API the recipes use.

calls = []  # (function, args, kwargs) of the tool calls, in order


class ConanInvalidConfiguration(Exception):
    pass


class ConanException(Exception):
    pass


class Setting(str):
    """A settings value: compares as a string, carries sub-settings as attributes."""

    def __new__(cls, value, **subsettings):
        obj = str.__new__(cls, value)
        for key, sub in subsettings.items():
            setattr(obj, key, None if sub is None else Setting(sub))
        return obj

    def get_safe(self, name, default=None):
        value = getattr(self, name, None)
        return default if value is None else value


class Settings:
    def __init__(self, os="Linux", arch="x86_64", compiler="gcc", version="12", cppstd=None,
                 build_type="Release"):
        self.os = Setting(os)
        self.arch = Setting(arch)
        self.compiler = Setting(compiler, version=version, cppstd=cppstd)
        self.build_type = Setting(build_type)

    def get_safe(self, name, default=None):
        value = self
        for part in name.split("."):
            value = getattr(value, part, None)
            if value is None:
                return default
        return value


class Options:
    def __init__(self, values):
        self.__dict__.update(values)


class Info:
    def __init__(self):
        self.cleared = False

    def clear(self):
        self.cleared = True


class CppInfo:
    def __init__(self):
        self.includedirs = ["include"]
        self.bindirs = ["bin"]
        self.libdirs = ["lib"]
        self.libs = []
        self.requires = []
        self.defines = []
        self.cxxflags = []
        self.sharedlinkflags = []
        self.exelinkflags = []
        self.system_libs = []
        self._properties = {}
        self._components = {}

    def set_property(self, name, value):
        self._properties[name] = value

    def get_property(self, name):
        return self._properties.get(name)

    @property
    def components(self):
        return _ComponentsProxy(self._components)


class _ComponentsProxy:
    """cpp_info.components[name] creates the component on first use, as in Conan."""

    def __init__(self, store):
        self._store = store

    def __getitem__(self, key):
        if key not in self._store:
            self._store[key] = CppInfo()
        return self._store[key]

    def keys(self):
        return self._store.keys()

    def items(self):
        return self._store.items()


class Requirement:
    def __init__(self, ref, **traits):
        self.ref = ref
        self.traits = traits


class ConanFile:
    name = None
    version = None
    settings = None
    options = None
    default_options = None

    def __init__(self, settings=None, options=None):
        self.settings = settings or Settings()
        values = dict(type(self).default_options or {})
        values.update(options or {})
        self.options = Options(values)
        self.info = Info()
        self.cpp_info = CppInfo()
        self.recipe_folder = None
        self.source_folder = "/fake/source"
        self.build_folder = "/fake/build"
        self.package_folder = "/fake/package"
        self.requirements_declared = []
        self.run_commands = []
        self.ref = f"{self.name}/{self.version}"
        self.tested_reference_str = "detseg/0.1.0"

        class _Build:
            bindir = "/fake/build/Release"

        class _Cpp:
            build = _Build()

        self.cpp = _Cpp()

    def requires(self, ref, **traits):
        self.requirements_declared.append(Requirement(ref, **traits))

    def run(self, command, env=None):
        self.run_commands.append((command, env))


def record(name):
    def tool(*args, **kwargs):
        calls.append((name, args, kwargs))
    return tool


def check_min_cppstd(conanfile, cppstd):
    value = conanfile.settings.compiler.get_safe("cppstd")
    if value is None:
        return
    number = int(str(value).replace("gnu", ""))
    number = number + 100 if number < 50 else number  # 98 < 03 < 11 < ... < 23
    wanted = int(cppstd) + 100 if int(cppstd) < 50 else int(cppstd)
    if number < wanted:
        raise ConanInvalidConfiguration(f"needs C++{cppstd}, cppstd is {value}")


class Version:
    def __init__(self, text):
        self.parts = tuple(int(p) for p in re.findall(r"\d+", str(text)))

    def _other(self, other):
        return other if isinstance(other, Version) else Version(other)

    def __lt__(self, other):
        return self.parts < self._other(other).parts

    def __ge__(self, other):
        return not self < other


class CMakeToolchain:
    last = None

    def __init__(self, conanfile):
        self.cache_variables = {}
        self.variables = {}
        CMakeToolchain.last = self

    def generate(self):
        calls.append(("CMakeToolchain.generate", (), {}))


class CMake:
    def __init__(self, conanfile):
        pass

    def configure(self, **kwargs):
        calls.append(("CMake.configure", (), kwargs))

    def build(self, **kwargs):
        calls.append(("CMake.build", (), kwargs))

    def install(self, **kwargs):
        calls.append(("CMake.install", (), kwargs))


def load(conanfile, path, **kwargs):
    with open(path, encoding="utf-8") as f:
        return f.read()


def install_fakes():
    def module(name, **members):
        mod = types.ModuleType(name)
        mod.__dict__.update(members)
        sys.modules[name] = mod
        return mod

    module("conan", ConanFile=ConanFile)
    module("conan.errors", ConanInvalidConfiguration=ConanInvalidConfiguration,
           ConanException=ConanException)
    module("conan.tools")
    module("conan.tools.build", check_min_cppstd=check_min_cppstd,
           can_run=lambda conanfile: True)
    module("conan.tools.cmake", CMake=CMake, CMakeToolchain=CMakeToolchain,
           CMakeDeps=record("CMakeDeps"), cmake_layout=record("cmake_layout"))
    module("conan.tools.layout", basic_layout=record("basic_layout"))
    module("conan.tools.files", copy=record("copy"), rmdir=record("rmdir"), load=load,
           get=record("get"))
    module("conan.tools.scm", Version=Version)


def import_recipe(path, module_name):
    spec = importlib.util.spec_from_file_location(module_name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    classes = [v for v in vars(mod).values()
               if isinstance(v, type) and issubclass(v, ConanFile) and v is not ConanFile]
    if len(classes) != 1:
        raise SystemExit(f"{path}: expected one ConanFile class, found {len(classes)}")
    return classes[0]


# ------------------------------------------------------------------------------------------
# The checks.

failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        failures.append(what)


def make(recipe, **kwargs):
    options = {k: v for k, v in kwargs.items() if k.startswith("with_")}
    settings = Settings(**{k: v for k, v in kwargs.items() if not k.startswith("with_")})
    conanfile = recipe(settings=settings, options=options)
    conanfile.recipe_folder = ROOT
    return conanfile


def required_refs(recipe, **kwargs):
    conanfile = make(recipe, **kwargs)
    conanfile.requirements()
    return conanfile.requirements_declared


def main():
    install_fakes()
    recipe = import_recipe(os.path.join(ROOT, "conanfile.py"), "detseg_conanfile")
    cmakelists = load(None, os.path.join(ROOT, "CMakeLists.txt"))
    config_in = load(None, os.path.join(ROOT, "cmake", "detseg-config.cmake.in"))

    # Attributes.
    check(recipe.name == "detseg", "name is detseg")
    check(recipe.package_type == "header-library", "package_type is header-library")
    check(tuple(recipe.settings) == ("os", "arch", "compiler", "build_type"),
          "settings are os, arch, compiler, build_type")
    check(recipe.no_copy_source is True, "no_copy_source")
    check(recipe.license == "MIT", "license is MIT")
    backends = ["eigen", "xtensor", "openmp", "simdjson", "png"]
    check(set(recipe.options) == {f"with_{b}" for b in backends},
          "options are with_eigen, with_xtensor, with_openmp, with_simdjson, with_png")
    check(all(set(recipe.options[o]) == {True, False} for o in recipe.options),
          "every option is True/False")
    check(all(recipe.default_options[f"with_{b}"] is False for b in backends),
          "every option defaults to False")
    for pattern in recipe.exports_sources:
        base = pattern.split("/*")[0]
        check(os.path.exists(os.path.join(ROOT, base)), f"exports_sources '{pattern}' exists")
    check("include/*" in recipe.exports_sources and "LICENSE" in recipe.exports_sources,
          "exports_sources has the headers and LICENSE")

    # Version from CMakeLists.txt, equal to version.hpp's.
    conanfile = make(recipe)
    conanfile.set_version()
    header = load(None, os.path.join(ROOT, "include", "detseg", "version.hpp"))
    header_version = re.search(r'DETSEG_VERSION_STRING "([^"]+)"', header).group(1)
    check(conanfile.version == header_version,
          f"set_version() gives {conanfile.version}, version.hpp says {header_version}")

    # Options -> requirements.
    check(required_refs(recipe) == [], "no requirement with the default options")
    expected = {"with_eigen": "eigen/", "with_xtensor": "xtensor/",
                "with_simdjson": "simdjson/", "with_png": "libpng/"}
    for option, prefix in expected.items():
        refs = required_refs(recipe, **{option: True})
        check(len(refs) == 1 and refs[0].ref.startswith(prefix)
              and re.fullmatch(r"[a-z0-9_-]+/\d+(\.\d+)*", refs[0].ref) is not None,
              f"{option}=True requires {prefix}<version> ({[r.ref for r in refs]})")
        check(all(r.traits.get("transitive_headers") for r in refs),
              f"{option}=True: the requirement has transitive_headers (a header-only library)")
    check(required_refs(recipe, with_openmp=True) == [],
          "with_openmp=True requires nothing with gcc (the compiler has OpenMP)")
    apple = required_refs(recipe, with_openmp=True, compiler="apple-clang", version="15")
    check([r.ref.split("/")[0] for r in apple] == ["llvm-openmp"],
          "with_openmp=True requires llvm-openmp with apple-clang")

    # package_id() clears the info.
    conanfile = make(recipe)
    conanfile.package_id()
    check(conanfile.info.cleared, "package_id() clears self.info")

    # validate(): C++20 minimum.
    def validates(**kwargs):
        try:
            make(recipe, **kwargs).validate()
            return True
        except ConanInvalidConfiguration:
            return False

    check(not validates(cppstd="17"), "validate() rejects cppstd=17")
    check(not validates(cppstd="gnu17"), "validate() rejects cppstd=gnu17")
    check(validates(cppstd="20"), "validate() accepts cppstd=20")
    check(validates(cppstd="gnu20"), "validate() accepts cppstd=gnu20")
    check(validates(cppstd="23"), "validate() accepts cppstd=23")
    check(validates(), "validate() accepts gcc 12 without a cppstd")
    check(not validates(version="9"), "validate() rejects gcc 9 (no C++20)")
    check(not validates(compiler="clang", version="10"), "validate() rejects clang 10")
    check(validates(compiler="clang", version="14", cppstd="20"), "validate() accepts clang 14")

    # layout(), generate(), build(), package().
    del calls[:]
    conanfile = make(recipe)
    conanfile.layout()
    check([c[0] for c in calls] == ["cmake_layout"], "layout() uses cmake_layout")
    conanfile.generate()
    cache = CMakeToolchain.last.cache_variables
    for option in ["DETSEG_BUILD_TESTS", "DETSEG_BUILD_BENCHMARKS", "DETSEG_BUILD_EXAMPLES",
                   "DETSEG_BUILD_APPS"]:
        check(cache.get(option) is False, f"generate() sets {option}=OFF")
    for option in cache:
        check(re.search(r"option\(" + option + r"\b", cmakelists) is not None,
              f"generate()'s {option} is an option of CMakeLists.txt")
    check(cache.get("DETSEG_INSTALL") is True, "generate() sets DETSEG_INSTALL=ON")
    del calls[:]
    conanfile.build()
    conanfile.package()
    names = [c[0] for c in calls]
    check("CMake.install" in names, "package() runs the CMake install")
    licenses = [c for c in calls if c[0] == "copy" and c[1][1] == "LICENSE"]
    check(len(licenses) == 1 and licenses[0][1][3].endswith(os.path.join("package", "licenses")),
          "package() copies LICENSE to licenses/")
    check(any(c[0] == "rmdir" and c[1][1].endswith("share") for c in calls),
          "package() removes share/ (Conan generates the CMake and pkg-config files)")

    # package_info().
    known = re.search(r"set\(_detseg_known_components ([^)]*)\)", config_in).group(1).split()
    check(sorted(known) == sorted(backends),
          f"the CMake package's components ({' '.join(known)}) are the recipe's backends")

    def info(**kwargs):
        conanfile = make(recipe, **kwargs)
        conanfile.requirements()
        conanfile.package_info()
        return conanfile

    conanfile = info()
    cpp = conanfile.cpp_info
    check(cpp.get_property("cmake_file_name") == "detseg", "cmake_file_name is detseg")
    check(cpp.get_property("cmake_target_name") == "detseg::detseg",
          "cmake_target_name is detseg::detseg")
    check(cpp.get_property("pkg_config_name") == "detseg", "pkg_config_name is detseg")
    check(cpp.bindirs == [] and cpp.libdirs == [], "no bindirs, no libdirs")
    check(list(cpp.components.keys()) == ["core"], "default options: one component, core")
    core = cpp.components["core"]
    check(core.includedirs == ["include"] and core.bindirs == [] and core.libdirs == [],
          "core: include/, no bindirs, no libdirs")

    conanfile = info(**{f"with_{b}": True for b in backends})
    cpp = conanfile.cpp_info
    required_packages = {r.ref.split("/")[0] for r in conanfile.requirements_declared}
    check(set(cpp.components.keys()) == {"core", *backends},
          "all options on: components core, " + ", ".join(backends))
    for backend in backends:
        component = cpp.components[backend]
        check(component.get_property("cmake_target_name") == f"detseg::{backend}",
              f"component {backend} is the CMake target detseg::{backend}")
        check(component.requires[:1] == ["core"], f"component {backend} requires core")
        for requirement in component.requires[1:]:
            package = requirement.split("::")[0]
            check(package in required_packages,
                  f"component {backend} requires {requirement}, and the recipe requires {package}")
        check(component.bindirs == [] and component.libdirs == [],
              f"component {backend}: no bindirs, no libdirs")
    openmp = cpp.components["openmp"]
    check("-fopenmp" in openmp.cxxflags and "-fopenmp" in openmp.exelinkflags,
          "component openmp (gcc): -fopenmp when compiling and linking")
    for backend in backends:
        only = info(**{f"with_{backend}": True}).cpp_info
        check(set(only.components.keys()) == {"core", backend},
              f"with_{backend} alone: components core and {backend}")

    # test_package/.
    test_recipe = import_recipe(os.path.join(ROOT, "test_package", "conanfile.py"),
                                "detseg_test_package")
    check(test_recipe.test_type == "explicit", "test_package: test_type is explicit")
    check({"CMakeDeps", "CMakeToolchain"} <= set(test_recipe.generators),
          "test_package: generators CMakeDeps and CMakeToolchain")
    tester = test_recipe()
    tester.requirements()
    check([r.ref for r in tester.requirements_declared] == [tester.tested_reference_str],
          "test_package: requires the tested reference")
    del calls[:]
    tester.layout()
    tester.build()
    check([c[0] for c in calls] == ["cmake_layout", "CMake.configure", "CMake.build"],
          "test_package: cmake_layout, then configure and build")
    tester.test()
    check(len(tester.run_commands) == 1
          and tester.run_commands[0][0].endswith("test_package")
          and tester.run_commands[0][1] == "conanrun",
          "test_package: test() runs the test_package binary in the run environment")
    test_cmake = load(None, os.path.join(ROOT, "test_package", "CMakeLists.txt"))
    check(re.search(r"find_package\(detseg REQUIRED CONFIG\)", test_cmake) is not None,
          "test_package/CMakeLists.txt: find_package(detseg REQUIRED CONFIG)")
    check("detseg::detseg" in test_cmake, "test_package/CMakeLists.txt links detseg::detseg")

    print()
    if failures:
        print(f"check_conan_recipe: {len(failures)} checks FAILED (a static check: Conan was not run)")
        return 1
    print("check_conan_recipe: all checks passed (a static check with fake conan modules; "
          "Conan itself was not run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
