#include <detseg/backend/eigen.hpp>
#include <detseg/backend/xtensor.hpp>
#include <detseg/detseg.hpp>

#include <cstdio>
#include <cstring>

int main() {
    std::printf("detseg %s, test data in %s\n", detseg::version_string(), DETSEG_TEST_DATA_DIR);
#ifdef DETSEG_EXPECTED_VERSION
    if (std::strcmp(detseg::version_string(), DETSEG_EXPECTED_VERSION) != 0) {
        std::printf("version.hpp says %s, the CMake package says %s\n", detseg::version_string(),
                    DETSEG_EXPECTED_VERSION);
        return 1;
    }
#endif
    return 0;
}
