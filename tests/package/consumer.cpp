// A program outside the library's build: it includes the umbrella and backend headers, reads
// torchvision's box_iou output for the clustered fixture set, and checks that pairwise_iou gives
// the same matrix, bit for bit, from raw pointers, Eigen and xtensor inputs, in float and double.

#include <detseg/backend/eigen.hpp>
#include <detseg/backend/xtensor.hpp>
#include <detseg/detseg.hpp>
#include <detseg/io/npy.hpp>

#include <Eigen/Core>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

int failures = 0;

template <class T, class M>
void expect_equal(const detseg::tensor<T, 2>& ref, const M& got, const char* what) {
    long bad = 0;
    for (detseg::index_t i = 0; i < ref.extent(0); ++i)
        for (detseg::index_t j = 0; j < ref.extent(1); ++j) {
            const T r = std::isnan(ref(i, j)) ? T(0) : ref(i, j);
            if (!(static_cast<T>(got(i, j)) == r))
                ++bad;
        }
    std::printf("%-40s %ldx%ld  %s\n", what, long(ref.extent(0)), long(ref.extent(1)),
                bad ? "DIFFERS" : "equal to torchvision");
    failures += bad != 0;
}

template <class T>
void check(const std::string& dir, const char* tag) {
    const auto load = [&](const char* name) {
        return detseg::load_npy(dir + "/box/clustered_" + tag + "_" + name + ".npy").as<T, 2>();
    };
    const auto a = load("a"), b = load("b"), ref = load("iou");
    const auto n = a.extent(0), m = b.extent(0);
    const std::string t = tag;

    // Raw pointers.
    const T* pa = a.data();
    const T* pb = b.data();
    expect_equal(ref,
                 detseg::pairwise_iou(detseg::make_view(pa, {n, 4}), detseg::make_view(pb, {m, 4})),
                 (t + " raw pointers").c_str());

    // Eigen: row-major maps in, a column-major matrix out.
    using row_major = Eigen::Matrix<T, Eigen::Dynamic, 4, Eigen::RowMajor>;
    Eigen::Map<const row_major> ea(pa, n, 4), eb(pb, m, 4);
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> eout(n, m);
    detseg::pairwise_iou(ea, eb, eout);
    expect_equal(ref, eout, (t + " Eigen Map -> MatrixX").c_str());

    // xtensor: adapted buffers in, an xtensor out.
    const std::array<std::size_t, 2> sa{std::size_t(n), 4}, sb{std::size_t(m), 4};
    auto xa = xt::adapt(pa, std::size_t(n * 4), xt::no_ownership(), sa);
    auto xb = xt::adapt(pb, std::size_t(m * 4), xt::no_ownership(), sb);
    xt::xtensor<T, 2> xout = xt::zeros<T>({std::size_t(n), std::size_t(m)});
    detseg::pairwise_iou(xa, xb, xout);
    expect_equal(ref, xout, (t + " xt::adapt -> xt::xtensor").c_str());
}

} // namespace

int main() {
    std::printf("detseg %s\n", detseg::version_string());
#ifdef DETSEG_EXPECTED_VERSION
    if (std::strcmp(detseg::version_string(), DETSEG_EXPECTED_VERSION) != 0) {
        std::printf("version.hpp says %s, the CMake package says %s\n", detseg::version_string(),
                    DETSEG_EXPECTED_VERSION);
        return 1;
    }
#endif
    try {
        check<float>(DETSEG_TEST_DATA_DIR, "f32");
        check<double>(DETSEG_TEST_DATA_DIR, "f64");
    } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
