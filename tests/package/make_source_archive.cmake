# Packs the files a consumer's build reads (CMakeLists.txt, cmake/, include/, LICENSE, README.md)
# into a tarball laid out like a release archive: detseg-<version>/... Run by ctest as
# package.source_archive, for the FetchContent test:
#   cmake -DSOURCE_DIR=<repository> -DVERSION=<x.y.z> -DOUTPUT=<file.tar.gz> -P make_source_archive.cmake
cmake_minimum_required(VERSION 3.21)

foreach(variable SOURCE_DIR VERSION OUTPUT)
    if(NOT DEFINED ${variable})
        message(FATAL_ERROR "make_source_archive: -D${variable}=... is required")
    endif()
endforeach()

get_filename_component(output_dir "${OUTPUT}" DIRECTORY)
set(stage "${output_dir}/source_archive_stage")
set(top "detseg-${VERSION}")
file(REMOVE_RECURSE "${stage}" "${OUTPUT}")
file(MAKE_DIRECTORY "${stage}/${top}")
file(COPY "${SOURCE_DIR}/CMakeLists.txt" "${SOURCE_DIR}/LICENSE" "${SOURCE_DIR}/README.md"
          "${SOURCE_DIR}/cmake" "${SOURCE_DIR}/include"
     DESTINATION "${stage}/${top}")
execute_process(COMMAND "${CMAKE_COMMAND}" -E tar czf "${OUTPUT}" "${top}"
    WORKING_DIRECTORY "${stage}"
    COMMAND_ERROR_IS_FATAL ANY)
file(REMOVE_RECURSE "${stage}")
file(SHA256 "${OUTPUT}" hash)
message(STATUS "make_source_archive: ${OUTPUT} (SHA256=${hash})")
