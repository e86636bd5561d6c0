# cmake -DPKG_CONFIG_DIR= -DINCLUDE_DIR= -DVERSION= -DCXX= -DSOURCE= -DTEST_DATA_DIR= -DOUTPUT=
#       -P pkg_config.cmake
cmake_minimum_required(VERSION 3.21)

find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${PKG_CONFIG_DIR}")

execute_process(COMMAND "${PKG_CONFIG}" --modversion detseg
    OUTPUT_VARIABLE version OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
if(NOT version STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config reports detseg ${version}, expected ${VERSION}")
endif()

execute_process(COMMAND "${PKG_CONFIG}" --cflags-only-I detseg
    OUTPUT_VARIABLE include_flag OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
string(REGEX REPLACE "^-I" "" include_dir "${include_flag}")
file(REAL_PATH "${include_dir}" include_dir)
file(REAL_PATH "${INCLUDE_DIR}" expected_include_dir)
if(NOT include_dir STREQUAL expected_include_dir)
    message(FATAL_ERROR "pkg-config --cflags detseg gives '${include_flag}', expected -I${INCLUDE_DIR}")
endif()

execute_process(COMMAND "${PKG_CONFIG}" --cflags detseg eigen3 xtensor
    OUTPUT_VARIABLE cflags OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
separate_arguments(cflags UNIX_COMMAND "${cflags}")
message(STATUS "pkg-config --cflags detseg eigen3 xtensor: ${cflags}")

get_filename_component(output_dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${output_dir}")
execute_process(
    COMMAND "${CXX}" -std=c++20 ${cflags} "-DDETSEG_TEST_DATA_DIR=\"${TEST_DATA_DIR}\""
            "${SOURCE}" -o "${OUTPUT}"
    COMMAND_ECHO STDOUT
    COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${OUTPUT}" COMMAND_ERROR_IS_FATAL ANY)
