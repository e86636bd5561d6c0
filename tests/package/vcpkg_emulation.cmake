# An EMULATION of `vcpkg install` in manifest mode, for the detseg overlay port in ports/detseg.
# vcpkg cannot reach its registry here, so this script does in essence what vcpkg does for this
# one port, with the real portfile:
#   1. reads the consumer's vcpkg.json (the detseg dependency and its features) and
#      vcpkg-configuration.json (overlay-ports), and finds ports/detseg;
#   2. checks the port's vcpkg.json (fields, host dependencies, the requested features);
#   3. defines the vcpkg helpers the portfile uses (vcpkg_cmake_configure, vcpkg_cmake_install,
#      vcpkg_cmake_config_fixup, vcpkg_fixup_pkgconfig, vcpkg_install_copyright), each doing what
#      the real one does for a CMake project: configure release and debug into buildtrees/,
#      install into packages/<port>_<triplet>/, move the CMake package to share/<port>/ and fix
#      its relative paths, rewrite pkg-config prefixes, write share/<port>/copyright;
#   4. include()s the real ports/detseg/portfile.cmake;
#   5. runs the post-build checks that matter for a header-only port (copyright, usage, no debug
#      include/ or share/, no leftover share/cmake, no absolute build paths in installed files);
#   6. copies the package into installed/<triplet>/, where the vcpkg toolchain points
#      find_package (emulated by vcpkg_toolchain_emulation.cmake).
# The dependencies of the features (eigen3, xtensor, simdjson) are NOT built: they are listed,
# and the consumer takes them from the system. Nothing here is vcpkg's code.
#
#   cmake -DMANIFEST_DIR=<consumer> -DVCPKG_ROOT=<scratch dir> -DTARGET_TRIPLET=x64-linux
#         -DGENERATOR=<generator> [-DMAKE_PROGRAM=<path>] [-DCXX_COMPILER=<path>]
#         -P vcpkg_emulation.cmake
cmake_minimum_required(VERSION 3.21)

foreach(variable MANIFEST_DIR VCPKG_ROOT TARGET_TRIPLET GENERATOR)
    if(NOT DEFINED ${variable})
        message(FATAL_ERROR "vcpkg emulation: -D${variable}=... is required")
    endif()
endforeach()

function(emulation_fail)
    string(JOIN "" text ${ARGN})
    message(FATAL_ERROR "vcpkg emulation: ${text}")
endfunction()

# ---------------------------------------------------------------------------------------------
# 1. The consumer's manifest and configuration.
file(READ "${MANIFEST_DIR}/vcpkg.json" consumer_manifest)
string(JSON dependency_count LENGTH "${consumer_manifest}" dependencies)
set(requested_features "")
set(found_dependency FALSE)
math(EXPR last "${dependency_count} - 1")
foreach(i RANGE ${last})
    string(JSON kind TYPE "${consumer_manifest}" dependencies ${i})
    if(kind STREQUAL "STRING")
        string(JSON name GET "${consumer_manifest}" dependencies ${i})
    else()
        string(JSON name GET "${consumer_manifest}" dependencies ${i} name)
    endif()
    if(NOT name STREQUAL "detseg")
        emulation_fail("the consumer depends on '${name}'; this emulation installs detseg only")
    endif()
    set(found_dependency TRUE)
    if(kind STREQUAL "OBJECT")
        string(JSON feature_count ERROR_VARIABLE no_features
            LENGTH "${consumer_manifest}" dependencies ${i} features)
        if(NOT no_features AND feature_count GREATER 0)
            math(EXPR last_feature "${feature_count} - 1")
            foreach(f RANGE ${last_feature})
                string(JSON feature GET "${consumer_manifest}" dependencies ${i} features ${f})
                list(APPEND requested_features "${feature}")
            endforeach()
        endif()
    endif()
endforeach()
if(NOT found_dependency)
    emulation_fail("${MANIFEST_DIR}/vcpkg.json does not depend on detseg")
endif()

file(READ "${MANIFEST_DIR}/vcpkg-configuration.json" consumer_configuration)
string(JSON overlay_count LENGTH "${consumer_configuration}" overlay-ports)
set(CURRENT_PORT_DIR "")
math(EXPR last "${overlay_count} - 1")
foreach(i RANGE ${last})
    string(JSON overlay GET "${consumer_configuration}" overlay-ports ${i})
    get_filename_component(overlay "${overlay}" ABSOLUTE BASE_DIR "${MANIFEST_DIR}")
    if(EXISTS "${overlay}/detseg/portfile.cmake")
        set(CURRENT_PORT_DIR "${overlay}/detseg")
        break()
    endif()
endforeach()
if(NOT CURRENT_PORT_DIR)
    emulation_fail("no overlay port detseg/portfile.cmake in the overlay-ports of "
                   "${MANIFEST_DIR}/vcpkg-configuration.json")
endif()

# ---------------------------------------------------------------------------------------------
# 2. The port's manifest.
file(READ "${CURRENT_PORT_DIR}/vcpkg.json" port_manifest)
foreach(field name description homepage license)
    string(JSON value ERROR_VARIABLE missing GET "${port_manifest}" ${field})
    if(missing)
        emulation_fail("ports/detseg/vcpkg.json has no '${field}'")
    endif()
endforeach()
string(JSON PORT GET "${port_manifest}" name)
set(VERSION "")
foreach(field version version-semver version-string version-date)
    string(JSON value ERROR_VARIABLE missing GET "${port_manifest}" ${field})
    if(NOT missing)
        set(VERSION "${value}")
    endif()
endforeach()
if(NOT VERSION)
    emulation_fail("ports/detseg/vcpkg.json has no version field")
endif()

set(host_dependencies "")
string(JSON dependency_count LENGTH "${port_manifest}" dependencies)
math(EXPR last "${dependency_count} - 1")
foreach(i RANGE ${last})
    string(JSON kind TYPE "${port_manifest}" dependencies ${i})
    if(kind STREQUAL "OBJECT")
        string(JSON name GET "${port_manifest}" dependencies ${i} name)
        string(JSON host ERROR_VARIABLE not_host GET "${port_manifest}" dependencies ${i} host)
        if(NOT not_host AND host)
            list(APPEND host_dependencies "${name}")
        endif()
    endif()
endforeach()

set(FEATURES core)
set(feature_dependencies "")
foreach(feature IN LISTS requested_features)
    string(JSON feature_object ERROR_VARIABLE unknown GET "${port_manifest}" features "${feature}")
    if(unknown)
        emulation_fail("the consumer asks for feature '${feature}', which ports/detseg/vcpkg.json lacks")
    endif()
    string(JSON description ERROR_VARIABLE missing GET "${feature_object}" description)
    if(missing)
        emulation_fail("feature '${feature}' has no description")
    endif()
    string(JSON count ERROR_VARIABLE none LENGTH "${feature_object}" dependencies)
    if(NOT none AND count GREATER 0)
        math(EXPR last "${count} - 1")
        foreach(i RANGE ${last})
            string(JSON dependency GET "${feature_object}" dependencies ${i})
            list(APPEND feature_dependencies "${dependency}")
        endforeach()
    endif()
    list(APPEND FEATURES "${feature}")
endforeach()
message(STATUS "vcpkg emulation: ${PORT}[${FEATURES}] ${VERSION}:${TARGET_TRIPLET} "
               "from ${CURRENT_PORT_DIR}")
if(feature_dependencies)
    message(STATUS "vcpkg emulation: real vcpkg would also build ${feature_dependencies}; "
                   "this emulation leaves them to the system")
endif()

# ---------------------------------------------------------------------------------------------
# 3. The variables and helpers a portfile sees.
set(TARGET_TRIPLET "${TARGET_TRIPLET}")
set(CURRENT_PACKAGES_DIR "${VCPKG_ROOT}/packages/${PORT}_${TARGET_TRIPLET}")
set(CURRENT_BUILDTREES_DIR "${VCPKG_ROOT}/buildtrees/${PORT}")
set(CURRENT_INSTALLED_DIR "${VCPKG_ROOT}/installed/${TARGET_TRIPLET}")
set(VCPKG_TARGET_IS_LINUX ON)
set(VCPKG_LIBRARY_LINKAGE static)
set(VCPKG_CRT_LINKAGE dynamic)
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}" "${CURRENT_BUILDTREES_DIR}")

# vcpkg_cmake_configure and vcpkg_cmake_install come from the vcpkg-cmake host port,
# vcpkg_cmake_config_fixup from vcpkg-cmake-config: without the host dependency, a portfile
# calling them fails in real vcpkg too.
if("vcpkg-cmake" IN_LIST host_dependencies)
    function(vcpkg_cmake_configure)
        cmake_parse_arguments(PARSE_ARGV 0 arg "WINDOWS_USE_MSBUILD;NO_CHARSET_FLAG"
            "SOURCE_PATH;GENERATOR;LOGFILE_BASE"
            "OPTIONS;OPTIONS_DEBUG;OPTIONS_RELEASE;MAYBE_UNUSED_VARIABLES")
        if(NOT arg_SOURCE_PATH OR NOT EXISTS "${arg_SOURCE_PATH}/CMakeLists.txt")
            emulation_fail("vcpkg_cmake_configure: SOURCE_PATH '${arg_SOURCE_PATH}' has no CMakeLists.txt")
        endif()
        set(configs release)
        if(NOT VCPKG_BUILD_TYPE STREQUAL "release")
            list(APPEND configs debug)
        endif()
        set(compiler "")
        if(CXX_COMPILER)
            set(compiler "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
        endif()
        set(make_program "")
        if(MAKE_PROGRAM)
            set(make_program "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
        endif()
        foreach(config IN LISTS configs)
            if(config STREQUAL "release")
                set(dir "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel")
                set(prefix "${CURRENT_PACKAGES_DIR}")
                set(build_type Release)
                set(config_options ${arg_OPTIONS_RELEASE})
            else()
                set(dir "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-dbg")
                set(prefix "${CURRENT_PACKAGES_DIR}/debug")
                set(build_type Debug)
                set(config_options ${arg_OPTIONS_DEBUG})
            endif()
            # The options vcpkg always passes that matter here (install layout, no registries).
            execute_process(
                COMMAND "${CMAKE_COMMAND}" -S "${arg_SOURCE_PATH}" -B "${dir}"
                        -G "${GENERATOR}" ${make_program} ${compiler}
                        "-DCMAKE_BUILD_TYPE=${build_type}"
                        "-DCMAKE_INSTALL_PREFIX=${prefix}"
                        -DCMAKE_INSTALL_LIBDIR:STRING=lib
                        -DCMAKE_INSTALL_BINDIR:STRING=bin
                        -DFETCHCONTENT_FULLY_DISCONNECTED=ON
                        -DCMAKE_EXPORT_NO_PACKAGE_REGISTRY=ON
                        -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
                        "-DVCPKG_TARGET_TRIPLET=${TARGET_TRIPLET}"
                        ${arg_OPTIONS} ${config_options}
                RESULT_VARIABLE result
                OUTPUT_VARIABLE output
                ERROR_VARIABLE output)
            file(WRITE "${CURRENT_BUILDTREES_DIR}/config-${TARGET_TRIPLET}-${config}-out.log"
                 "${output}")
            if(NOT result EQUAL 0)
                message("${output}")
                emulation_fail("vcpkg_cmake_configure: configuring ${config} failed")
            endif()
            # vcpkg reports options the project never read; a DETSEG_ one means the portfile
            # passes an option the project no longer has.
            if(output MATCHES "Manually-specified variables were not used by the project:\n\n(    [^\n]*\n)+")
                set(unused "${CMAKE_MATCH_0}")
                if(unused MATCHES "DETSEG_[A-Z_]+")
                    message("${output}")
                    emulation_fail("vcpkg_cmake_configure: the project ignores ${CMAKE_MATCH_0}")
                endif()
            endif()
            set_property(GLOBAL APPEND PROPERTY emulated_vcpkg_build_dirs "${dir}")
        endforeach()
    endfunction()

    function(vcpkg_cmake_install)
        get_property(dirs GLOBAL PROPERTY emulated_vcpkg_build_dirs)
        if(NOT dirs)
            emulation_fail("vcpkg_cmake_install before vcpkg_cmake_configure")
        endif()
        foreach(dir IN LISTS dirs)
            execute_process(COMMAND "${CMAKE_COMMAND}" --build "${dir}" --target install
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
            if(NOT result EQUAL 0)
                message("${output}")
                emulation_fail("vcpkg_cmake_install: building 'install' in ${dir} failed")
            endif()
        endforeach()
    endfunction()
endif()

if("vcpkg-cmake-config" IN_LIST host_dependencies)
    # Moves <CONFIG_PATH> to share/<PACKAGE_NAME>, drops the debug copy (an INTERFACE library
    # has no per-configuration files), and makes the files' relative paths match the new depth:
    # the exported _IMPORT_PREFIX computation and configure_package_config_file's
    # PACKAGE_PREFIX_DIR.
    function(vcpkg_cmake_config_fixup)
        cmake_parse_arguments(PARSE_ARGV 0 arg "DO_NOT_DELETE_PARENT_CONFIG_PATH;NO_PREFIX_CORRECTION"
            "PACKAGE_NAME;CONFIG_PATH" "TOOLS_PATH")
        if(NOT arg_PACKAGE_NAME)
            set(arg_PACKAGE_NAME "${PORT}")
        endif()
        set(from "${CURRENT_PACKAGES_DIR}/${arg_CONFIG_PATH}")
        set(to "${CURRENT_PACKAGES_DIR}/share/${arg_PACKAGE_NAME}")
        if(NOT IS_DIRECTORY "${from}")
            emulation_fail("vcpkg_cmake_config_fixup: '${arg_CONFIG_PATH}' does not exist in the package")
        endif()
        set(debug_from "${CURRENT_PACKAGES_DIR}/debug/${arg_CONFIG_PATH}")
        if(IS_DIRECTORY "${debug_from}")
            file(GLOB debug_specific "${debug_from}/*-debug.cmake")
            if(debug_specific)
                emulation_fail("vcpkg_cmake_config_fixup: debug target files are not emulated")
            endif()
            file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/share")
        endif()
        if(NOT from STREQUAL to)
            file(GLOB files "${from}/*")
            file(MAKE_DIRECTORY "${to}")
            file(COPY ${files} DESTINATION "${to}")
            file(REMOVE_RECURSE "${from}")
            # Remove the parents left empty (share/cmake).
            get_filename_component(parent "${from}" DIRECTORY)
            file(GLOB left "${parent}/*")
            if(NOT left AND NOT arg_DO_NOT_DELETE_PARENT_CONFIG_PATH)
                file(REMOVE_RECURSE "${parent}")
            endif()
        endif()
        file(GLOB cmake_files "${to}/*.cmake")
        foreach(file IN LISTS cmake_files)
            file(READ "${file}" contents)
            # share/<name>/x.cmake is two directories below the prefix.
            string(REGEX REPLACE
                "get_filename_component\\(_IMPORT_PREFIX \"\\\${CMAKE_CURRENT_LIST_FILE}\" PATH\\)(\nget_filename_component\\(_IMPORT_PREFIX \"\\\${_IMPORT_PREFIX}\" PATH\\))*"
                "get_filename_component(_IMPORT_PREFIX \"\${CMAKE_CURRENT_LIST_FILE}\" PATH)\nget_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)\nget_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)"
                contents "${contents}")
            string(REGEX REPLACE
                "get_filename_component\\(PACKAGE_PREFIX_DIR \"\\\${CMAKE_CURRENT_LIST_DIR}/(\\.\\./)+\" ABSOLUTE\\)"
                "get_filename_component(PACKAGE_PREFIX_DIR \"\${CMAKE_CURRENT_LIST_DIR}/../../\" ABSOLUTE)"
                contents "${contents}")
            string(REPLACE "${CURRENT_PACKAGES_DIR}" "\${_IMPORT_PREFIX}" contents "${contents}")
            file(WRITE "${file}" "${contents}")
        endforeach()
    endfunction()
endif()

# Built into vcpkg's scripts: rewrite each .pc file's prefix relative to its folder, then let
# pkg-config validate it.
function(vcpkg_fixup_pkgconfig)
    file(GLOB_RECURSE pc_files "${CURRENT_PACKAGES_DIR}/*.pc")
    find_program(pkg_config NAMES pkg-config pkgconf)
    foreach(pc IN LISTS pc_files)
        file(RELATIVE_PATH relative "${CURRENT_PACKAGES_DIR}" "${pc}")
        set(up "\${pcfiledir}/../..")
        if(relative MATCHES "^debug/")
            set(up "\${pcfiledir}/../../..")
        endif()
        file(READ "${pc}" contents)
        string(REGEX REPLACE "(^|\n)prefix=[^\n]*" "\\1prefix=${up}" contents "${contents}")
        string(REPLACE "${CURRENT_PACKAGES_DIR}" "\${prefix}" contents "${contents}")
        file(WRITE "${pc}" "${contents}")
        if(pkg_config)
            get_filename_component(pc_dir "${pc}" DIRECTORY)
            get_filename_component(pc_name "${pc}" NAME_WE)
            set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
            execute_process(COMMAND "${pkg_config}" --validate "${pc_name}"
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
            if(NOT result EQUAL 0)
                emulation_fail("vcpkg_fixup_pkgconfig: pkg-config rejects ${relative}: ${output}")
            endif()
        endif()
    endforeach()
endfunction()

function(vcpkg_install_copyright)
    cmake_parse_arguments(PARSE_ARGV 0 arg "" "COMMENT" "FILE_LIST")
    if(NOT arg_FILE_LIST)
        emulation_fail("vcpkg_install_copyright: FILE_LIST is empty")
    endif()
    set(text "")
    foreach(file IN LISTS arg_FILE_LIST)
        if(NOT EXISTS "${file}")
            emulation_fail("vcpkg_install_copyright: ${file} does not exist")
        endif()
        file(READ "${file}" contents)
        string(APPEND text "${contents}")
    endforeach()
    file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright" "${text}")
endfunction()

# ---------------------------------------------------------------------------------------------
# 4. The real portfile.
include("${CURRENT_PORT_DIR}/portfile.cmake")

# ---------------------------------------------------------------------------------------------
# 5. Post-build checks.
set(share "${CURRENT_PACKAGES_DIR}/share/${PORT}")
foreach(required "${share}/copyright" "${share}/${PORT}-config.cmake"
        "${share}/${PORT}-config-version.cmake" "${CURRENT_PACKAGES_DIR}/include/detseg/detseg.hpp")
    if(NOT EXISTS "${required}")
        file(RELATIVE_PATH relative "${CURRENT_PACKAGES_DIR}" "${required}")
        emulation_fail("post-build: the package has no ${relative}")
    endif()
endforeach()
if(EXISTS "${CURRENT_PORT_DIR}/usage" AND NOT EXISTS "${share}/usage")
    emulation_fail("post-build: the port has a usage file but does not install share/${PORT}/usage")
endif()
foreach(forbidden debug/include debug/share share/cmake lib/cmake)
    if(EXISTS "${CURRENT_PACKAGES_DIR}/${forbidden}")
        emulation_fail("post-build: ${forbidden} must not exist in the package")
    endif()
endforeach()
get_filename_component(port_source "${CURRENT_PORT_DIR}/../.." ABSOLUTE)
file(GLOB_RECURSE text_files "${CURRENT_PACKAGES_DIR}/share/*")
foreach(file IN LISTS text_files)
    file(READ "${file}" contents)
    foreach(path "${VCPKG_ROOT}" "${port_source}")
        string(FIND "${contents}" "${path}" position)
        if(NOT position EQUAL -1)
            emulation_fail("post-build: ${file} contains the absolute path ${path}")
        endif()
    endforeach()
endforeach()

# ---------------------------------------------------------------------------------------------
# 6. Install into installed/<triplet>, with vcpkg's list of the port's files.
file(REMOVE_RECURSE "${CURRENT_INSTALLED_DIR}")
file(MAKE_DIRECTORY "${CURRENT_INSTALLED_DIR}")
file(GLOB top "${CURRENT_PACKAGES_DIR}/*")
file(COPY ${top} DESTINATION "${CURRENT_INSTALLED_DIR}")
file(GLOB_RECURSE installed RELATIVE "${CURRENT_PACKAGES_DIR}" "${CURRENT_PACKAGES_DIR}/*")
list(SORT installed)
list(TRANSFORM installed PREPEND "${TARGET_TRIPLET}/")
string(JOIN "\n" listing ${installed})
file(WRITE "${VCPKG_ROOT}/installed/vcpkg/info/${PORT}_${VERSION}_${TARGET_TRIPLET}.list"
     "${listing}\n")
list(LENGTH installed file_count)
message(STATUS "vcpkg emulation: installed ${file_count} files of ${PORT} into ${CURRENT_INSTALLED_DIR}")
if(EXISTS "${share}/usage")
    file(READ "${share}/usage" usage)
    message(STATUS "vcpkg emulation: the package's usage file says:\n${usage}")
endif()
