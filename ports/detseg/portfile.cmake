# Overlay port built from this repository's sources (no download):
#   vcpkg install detseg[eigen3,xtensor] --overlay-ports=<repository>/ports
# The features only install the dependencies; the CMake package is the same for every feature
# set, and a user picks the targets with find_package(detseg CONFIG REQUIRED COMPONENTS ...).
# OpenMP comes with the compiler, so the openmp component needs no feature.
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DDETSEG_BUILD_TESTS=OFF
        -DDETSEG_BUILD_BENCHMARKS=OFF
        -DDETSEG_BUILD_EXAMPLES=OFF
        -DDETSEG_BUILD_APPS=OFF
        -DDETSEG_INSTALL=ON
)
vcpkg_cmake_install()

# The project installs its package to share/cmake/detseg; vcpkg wants share/detseg.
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/detseg)
vcpkg_fixup_pkgconfig()

# Header-only: nothing belongs in the debug tree.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
