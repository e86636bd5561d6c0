# Configures a consumer project that must fail, and checks that it fails cleanly: a non-zero exit,
# the expected message (EXPECT, a regex matched with whitespace runs as one space), and exactly
# one CMake error (nothing else broke on the way). Run by ctest:
#   cmake -DSOURCE=<dir> -DBINARY=<dir> -DPREFIX=<install prefix> -DEXPECT=<regex>
#         [-DGENERATOR=<generator> [-DMAKE_PROGRAM=<path>]] -P expect_configure_failure.cmake
cmake_minimum_required(VERSION 3.21)

foreach(variable SOURCE BINARY PREFIX EXPECT)
    if(NOT DEFINED ${variable})
        message(FATAL_ERROR "expect_configure_failure: -D${variable}=... is required")
    endif()
endforeach()

set(generator "")
if(GENERATOR)
    set(generator -G "${GENERATOR}")
    if(MAKE_PROGRAM)
        list(APPEND generator "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
    endif()
endif()

file(REMOVE_RECURSE "${BINARY}")
execute_process(
    COMMAND "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" ${generator}
            "-DCMAKE_PREFIX_PATH=${PREFIX}"
    RESULT_VARIABLE result
    OUTPUT_VARIABLE output
    ERROR_VARIABLE output)
message("${output}")

if(result EQUAL 0)
    message(FATAL_ERROR "expect_configure_failure: configuring ${SOURCE} succeeded; it must fail")
endif()
# CMake wraps error messages: match against the output with its whitespace runs made one space.
string(REGEX REPLACE "[ \t\r\n]+" " " flat_output "${output}")
if(NOT flat_output MATCHES "${EXPECT}")
    message(FATAL_ERROR "expect_configure_failure: the output does not match '${EXPECT}'")
endif()
string(REGEX MATCHALL "CMake Error" errors "${output}")
list(LENGTH errors error_count)
if(NOT error_count EQUAL 1)
    message(FATAL_ERROR "expect_configure_failure: ${error_count} CMake errors, expected exactly 1")
endif()
message(STATUS "expect_configure_failure: failed as expected, with '${EXPECT}'")
