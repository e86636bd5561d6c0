# An EMULATION of vcpkg's toolchain file (scripts/buildsystems/vcpkg.cmake), reduced to what it
# does for find_package: put installed/<triplet> first on the search paths. Used by ctest's
# package.vcpkg_consumer with the tree that vcpkg_emulation.cmake installed. Variables, as for
# the real toolchain: VCPKG_INSTALLED_DIR, VCPKG_TARGET_TRIPLET.
if(NOT VCPKG_INSTALLED_DIR OR NOT VCPKG_TARGET_TRIPLET)
    return() # a try_compile project without the forwarded variables
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES VCPKG_INSTALLED_DIR VCPKG_TARGET_TRIPLET)
list(PREPEND CMAKE_PREFIX_PATH "${VCPKG_INSTALLED_DIR}/${VCPKG_TARGET_TRIPLET}")
list(PREPEND CMAKE_FIND_ROOT_PATH "${VCPKG_INSTALLED_DIR}/${VCPKG_TARGET_TRIPLET}")
