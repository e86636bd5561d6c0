#include <detseg/backend/eigen.hpp>
#include <detseg/backend/xtensor.hpp>
#include <detseg/box/box.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/field_view.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xfixed.hpp>
#include <xtensor/xtensor.hpp>

#include <array>
#include <complex>
#include <cstdint>
#include <deque>
#include <list>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using detseg::box_metric_output;
using detseg::box_source;
using detseg::image_source;
using detseg::label_map_source;
using detseg::label_source;
using detseg::prob_source;
using detseg::score_source;
using detseg::strided_view;
using detseg::tensor;
using detseg::viewable;
using detseg::viewable_as;
using detseg::writable_view;

struct xyxy_float {
    float x1, y1, x2, y2;
};
struct xyxy_double_with_extras {
    int label;
    double score;
    double x1, y1, x2, y2;
};
struct xywh_only {
    float x, y, w, h;
};
struct mixed_types {
    float x1, y1;
    double x2, y2;
};
struct not_a_tensor {
    float values[4];
};

using vec_f = std::vector<float>;
using vec_d = std::vector<double>;
using vec_i = std::vector<int>;
using det_fields = detseg::field_view<xyxy_double_with_extras, double, 4,
                                      detseg::member_access<xyxy_double_with_extras, double, 4>>;
using MatXf = Eigen::MatrixXf;
using MatXd = Eigen::MatrixXd;
using MatXf_rm = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class V>
using view_of = decltype(detseg::as_view(std::declval<V&>()));

// ---- viewable: the three routes and the things that are not tensors.
static_assert(viewable<vec_f>);
static_assert(viewable<const vec_f>);
static_assert(viewable<vec_f&>);
static_assert(viewable<const vec_d&>);
static_assert(viewable<std::vector<std::uint8_t>>);
static_assert(viewable<std::span<float>>);
static_assert(viewable<std::span<const double, 8>>);
static_assert(viewable<std::array<float, 4>>);
static_assert(viewable<const std::array<int, 3>>);
static_assert(viewable<float[6]>);
static_assert(viewable<strided_view<float, 2>>);
static_assert(viewable<strided_view<const double, 3>>);
static_assert(viewable<const strided_view<float, 1>&>);
static_assert(viewable<det_fields>);
static_assert(viewable<tensor<float, 2>>);
static_assert(viewable<const tensor<std::int64_t, 3>>);
static_assert(viewable<MatXf>);
static_assert(viewable<const MatXd>);
static_assert(viewable<Eigen::VectorXf>);
static_assert(viewable<Eigen::ArrayXXd>);
static_assert(viewable<Eigen::Map<MatXf>>);
static_assert(viewable<Eigen::Map<const MatXf, 0, Eigen::OuterStride<>>>);
static_assert(viewable<Eigen::Block<MatXf>>);
static_assert(viewable<Eigen::Ref<const MatXf>>);
static_assert(viewable<xt::xtensor<float, 2>>);
static_assert(viewable<const xt::xtensor<double, 3>>);
static_assert(viewable<xt::xtensor_fixed<float, xt::xshape<2, 4>>>);

static_assert(!viewable<std::list<float>>);
static_assert(!viewable<std::deque<float>>);
static_assert(!viewable<std::vector<bool>>);
static_assert(!viewable<std::vector<std::string>>);
static_assert(!viewable<std::vector<std::complex<float>>>);
static_assert(!viewable<std::vector<std::array<float, 4>>>);
static_assert(!viewable<std::vector<xyxy_float>>);
static_assert(!viewable<int>);
static_assert(!viewable<float*>);
static_assert(!viewable<not_a_tensor>);
static_assert(!viewable<xt::xarray<float>>);
static_assert(!viewable<const xt::xarray<double>&>);

// ---- viewable_as: static rank, rank-2-as-1, rank-dynamic xarray.
static_assert(viewable_as<vec_f, 1>);
static_assert(!viewable_as<vec_f, 2>);
static_assert(viewable_as<tensor<float, 2>, 2>);
static_assert(viewable_as<tensor<float, 2>, 1>);
static_assert(!viewable_as<tensor<float, 2>, 3>);
static_assert(!viewable_as<tensor<float, 3>, 1>);
static_assert(!viewable_as<tensor<float, 3>, 2>);
static_assert(viewable_as<strided_view<const double, 3>, 3>);
static_assert(viewable_as<det_fields, 2>);
// A field view is N×K structs, not a vector of numbers: never a rank-1 source, even with K = 1.
using score_fields = detseg::field_view<xyxy_double_with_extras, double, 1,
                                        detseg::member_access<xyxy_double_with_extras, double, 1>>;
static_assert(!viewable_as<det_fields, 1>);
static_assert(!viewable_as<score_fields, 1>);
static_assert(!detseg::score_source<score_fields>);
static_assert(!detseg::label_source<score_fields>);
static_assert(viewable_as<MatXf, 2>);
static_assert(viewable_as<MatXf, 1>);
static_assert(!viewable_as<MatXf, 3>);
static_assert(viewable_as<Eigen::VectorXd, 1>);
static_assert(!viewable_as<Eigen::VectorXd, 2>);
static_assert(viewable_as<Eigen::RowVector4f, 1>);
static_assert(viewable_as<xt::xtensor<float, 2>, 2>);
static_assert(!viewable_as<xt::xtensor<float, 2>, 3>);
static_assert(viewable_as<xt::xarray<float>, 1>);
static_assert(viewable_as<xt::xarray<float>, 2>);
static_assert(viewable_as<xt::xarray<float>, 3>);
static_assert(!viewable_as<std::list<float>, 1>);
static_assert(!viewable_as<int, 1>);

static_assert(detseg::view_rank_v<vec_f> == 1);
static_assert(detseg::view_rank_v<tensor<float, 3>> == 3);
static_assert(detseg::view_rank_v<MatXf> == 2);
static_assert(detseg::view_rank_v<Eigen::VectorXf> == 1);
static_assert(detseg::view_rank_v<xt::xtensor<float, 3>> == 3);
static_assert(detseg::view_rank_v<std::list<float>> == 0);
static_assert(detseg::view_rank_v<xt::xarray<float>> == 0);

// ---- constness of the resolved view.
static_assert(std::is_same_v<view_of<vec_f>, strided_view<float, 1>>);
static_assert(std::is_same_v<view_of<const vec_f>, strided_view<const float, 1>>);
static_assert(std::is_same_v<view_of<std::span<const int>>, strided_view<const int, 1>>);
static_assert(std::is_same_v<view_of<const std::span<int>>, strided_view<int, 1>>);
static_assert(std::is_same_v<view_of<const std::array<double, 2>>, strided_view<const double, 1>>);
static_assert(std::is_same_v<view_of<tensor<float, 2>>, strided_view<float, 2>>);
static_assert(std::is_same_v<view_of<const tensor<float, 2>>, strided_view<const float, 2>>);
static_assert(std::is_same_v<view_of<MatXf>, strided_view<float, 2>>);
static_assert(std::is_same_v<view_of<const MatXf>, strided_view<const float, 2>>);
static_assert(std::is_same_v<view_of<Eigen::Map<const MatXd>>, strided_view<const double, 2>>);
static_assert(std::is_same_v<view_of<xt::xtensor<double, 2>>, strided_view<double, 2>>);
static_assert(std::is_same_v<view_of<const xt::xtensor<double, 2>>, strided_view<const double, 2>>);
static_assert(std::is_same_v<view_of<det_fields>, det_fields>);

// ---- writable_view: outputs.
static_assert(writable_view<vec_f, float, 1>);
static_assert(writable_view<vec_f&, double, 1>);
static_assert(writable_view<std::span<float>, float, 1>);
static_assert(writable_view<std::array<double, 3>, double, 1>);
static_assert(writable_view<strided_view<float, 2>, float, 2>);
static_assert(writable_view<tensor<double, 3>, double, 3>);
static_assert(writable_view<tensor<float, 2>, float, 1>);
static_assert(writable_view<MatXf, float, 2>);
static_assert(writable_view<MatXf&, float, 2>);
static_assert(writable_view<Eigen::Map<MatXf>, float, 2>);
static_assert(writable_view<Eigen::Block<MatXf>, float, 2>);
static_assert(writable_view<Eigen::Ref<MatXf>, float, 2>);
static_assert(writable_view<Eigen::VectorXd, double, 1>);
static_assert(writable_view<xt::xtensor<float, 2>, float, 2>);
static_assert(writable_view<xt::xarray<float>, float, 2>);

static_assert(!writable_view<const vec_f, float, 1>);
static_assert(!writable_view<const vec_f&, float, 1>);
static_assert(!writable_view<std::span<const float>, float, 1>);
static_assert(!writable_view<vec_f, float, 2>);
static_assert(!writable_view<strided_view<const float, 2>, float, 2>);
static_assert(!writable_view<det_fields, double, 2>);
static_assert(!writable_view<const tensor<float, 2>, float, 2>);
static_assert(!writable_view<tensor<float, 3>, float, 2>);
static_assert(!writable_view<const MatXf, float, 2>);
static_assert(!writable_view<Eigen::Map<const MatXf>, float, 2>);
static_assert(!writable_view<Eigen::Ref<const MatXf>, float, 2>);
static_assert(!writable_view<const xt::xtensor<float, 2>, float, 2>);
static_assert(!writable_view<vec_f, std::string, 1>);
static_assert(!writable_view<std::list<float>, float, 1>);

// ---- score_source: rank-1 floating point.
static_assert(score_source<vec_f>);
static_assert(score_source<const vec_d>);
static_assert(score_source<std::span<const float>>);
static_assert(score_source<std::array<double, 5>>);
static_assert(score_source<strided_view<const float, 1>>);
static_assert(score_source<tensor<float, 1>>);
static_assert(score_source<tensor<double, 2>>);
static_assert(score_source<Eigen::VectorXf>);
static_assert(score_source<Eigen::RowVectorXd>);
static_assert(score_source<xt::xtensor<float, 1>>);
static_assert(score_source<xt::xarray<double>>);
static_assert(!score_source<vec_i>);
static_assert(!score_source<std::vector<std::uint8_t>>);
static_assert(!score_source<std::vector<std::int64_t>>);
static_assert(!score_source<tensor<float, 3>>);
static_assert(!score_source<Eigen::VectorXi>);
static_assert(!score_source<xt::xtensor<int, 1>>);
static_assert(!score_source<std::list<float>>);
static_assert(!score_source<float>);

// ---- label_source: rank-1 integers of any width and signedness.
static_assert(label_source<vec_i>);
static_assert(label_source<std::vector<std::int64_t>>);
static_assert(label_source<const std::vector<std::uint8_t>>);
static_assert(label_source<std::span<const std::uint16_t>>);
static_assert(label_source<tensor<std::int32_t, 1>>);
static_assert(label_source<Eigen::VectorXi>);
static_assert(label_source<xt::xtensor<std::int64_t, 1>>);
static_assert(!label_source<vec_f>);
static_assert(!label_source<vec_d>);
static_assert(!label_source<std::vector<bool>>);
static_assert(!label_source<std::list<int>>);
static_assert(!label_source<tensor<int, 3>>);
static_assert(!label_source<Eigen::VectorXf>);

// ---- image_source: rank 3, any arithmetic type.
static_assert(image_source<tensor<std::uint8_t, 3>>);
static_assert(image_source<tensor<float, 3>>);
static_assert(image_source<strided_view<const std::uint16_t, 3>>);
static_assert(image_source<xt::xtensor<std::uint8_t, 3>>);
static_assert(image_source<xt::xarray<float>>);
static_assert(!image_source<tensor<std::uint8_t, 2>>);
static_assert(!image_source<vec_f>);
static_assert(!image_source<MatXf>);
static_assert(!image_source<tensor<std::complex<float>, 3>>);

// ---- prob_source: rank 3 floating point.
static_assert(prob_source<tensor<float, 3>>);
static_assert(prob_source<const tensor<double, 3>>);
static_assert(prob_source<strided_view<const float, 3>>);
static_assert(prob_source<xt::xtensor<float, 3>>);
static_assert(prob_source<xt::xarray<double>>);
static_assert(!prob_source<tensor<int, 3>>);
static_assert(!prob_source<tensor<std::uint8_t, 3>>);
static_assert(!prob_source<tensor<float, 2>>);
static_assert(!prob_source<xt::xtensor<int, 3>>);
static_assert(!prob_source<vec_f>);

// ---- label_map_source: rank 2 integers.
static_assert(label_map_source<tensor<int, 2>>);
static_assert(label_map_source<tensor<std::uint8_t, 2>>);
static_assert(label_map_source<strided_view<const std::int64_t, 2>>);
static_assert(label_map_source<Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>>);
static_assert(label_map_source<Eigen::MatrixXi>);
static_assert(label_map_source<xt::xtensor<std::int32_t, 2>>);
static_assert(!label_map_source<tensor<float, 2>>);
static_assert(!label_map_source<MatXf>);
static_assert(!label_map_source<vec_i>);
static_assert(!label_map_source<tensor<int, 3>>);
static_assert(!label_map_source<xt::xtensor<double, 2>>);

// ---- box_source: N×4 views, flat ranges, ranges of box structs.
static_assert(box_source<vec_f>);
static_assert(box_source<const vec_d&>);
static_assert(box_source<std::span<const float>>);
static_assert(box_source<std::array<double, 8>>);
static_assert(box_source<std::vector<std::array<float, 4>>>);
static_assert(box_source<const std::vector<std::array<double, 4>>>);
static_assert(box_source<std::vector<detseg::box<float>>>);
static_assert(box_source<std::array<detseg::box<double>, 3>>);
static_assert(box_source<std::span<const detseg::box<float>>>);
static_assert(box_source<std::vector<xyxy_float>>);
static_assert(box_source<std::vector<xyxy_double_with_extras>>);
static_assert(box_source<det_fields>);
static_assert(box_source<tensor<float, 2>>);
static_assert(box_source<strided_view<const double, 2>>);
static_assert(box_source<decltype(detseg::as_boxes(std::declval<const vec_f&>()))>);
static_assert(box_source<MatXf>);
static_assert(box_source<const MatXd&>);
static_assert(box_source<Eigen::Matrix<float, Eigen::Dynamic, 4, Eigen::RowMajor>>);
static_assert(box_source<Eigen::Map<const MatXf>>);
static_assert(box_source<Eigen::Block<MatXd>>);
static_assert(box_source<xt::xtensor<float, 2>>);
static_assert(box_source<xt::xarray<double>>);

static_assert(!box_source<std::list<float>>);
static_assert(!box_source<std::list<detseg::box<float>>>);
static_assert(!box_source<std::deque<std::array<float, 4>>>);
static_assert(!box_source<std::vector<xywh_only>>);
static_assert(!box_source<std::vector<mixed_types>>);
static_assert(!box_source<std::vector<not_a_tensor>>);
static_assert(!box_source<std::vector<std::array<float, 3>>>);
static_assert(!box_source<std::vector<std::string>>);
static_assert(!box_source<tensor<float, 3>>);
static_assert(!box_source<xt::xtensor<float, 3>>);
static_assert(!box_source<xyxy_float>);
static_assert(!box_source<float>);

// ---- box_metric_output: writable floating-point views of the right rank.
static_assert(box_metric_output<MatXf, vec_f, vec_f, 2>);
static_assert(box_metric_output<MatXd&, vec_d, vec_f, 2>);
static_assert(box_metric_output<MatXf_rm, vec_f, vec_d, 2>);
static_assert(box_metric_output<Eigen::Map<MatXf>, vec_f, vec_f, 2>);
static_assert(box_metric_output<Eigen::Block<MatXd>, vec_d, vec_d, 2>);
static_assert(box_metric_output<tensor<float, 2>, vec_f, vec_f, 2>);
static_assert(box_metric_output<strided_view<double, 2>, vec_f, vec_f, 2>);
static_assert(box_metric_output<xt::xtensor<float, 2>, vec_f, vec_f, 2>);
static_assert(box_metric_output<xt::xarray<double>, vec_d, vec_d, 2>);
static_assert(box_metric_output<vec_f, vec_f, vec_f, 1>);
static_assert(box_metric_output<std::span<double>, vec_d, vec_d, 1>);
static_assert(box_metric_output<Eigen::VectorXf, vec_f, vec_f, 1>);

static_assert(!box_metric_output<const MatXf, vec_f, vec_f, 2>);
static_assert(!box_metric_output<const MatXf&, vec_f, vec_f, 2>);
static_assert(!box_metric_output<Eigen::Map<const MatXf>, vec_f, vec_f, 2>);
static_assert(!box_metric_output<Eigen::MatrixXi, vec_f, vec_f, 2>);
static_assert(!box_metric_output<tensor<int, 2>, vec_f, vec_f, 2>);
static_assert(!box_metric_output<strided_view<const float, 2>, vec_f, vec_f, 2>);
static_assert(!box_metric_output<tensor<float, 3>, vec_f, vec_f, 2>);
static_assert(!box_metric_output<vec_f, vec_f, vec_f, 2>);
static_assert(!box_metric_output<const vec_f, vec_f, vec_f, 1>);
static_assert(!box_metric_output<std::vector<std::int64_t>, vec_f, vec_f, 1>);
static_assert(!box_metric_output<std::list<float>, vec_f, vec_f, 1>);
static_assert(!box_metric_output<const xt::xtensor<float, 2>, vec_f, vec_f, 2>);

// ---- float_output: writable floating-point views.
static_assert(detseg::float_output<MatXf, 2>);
static_assert(detseg::float_output<tensor<double, 2>, 2>);
static_assert(detseg::float_output<xt::xarray<float>, 2>);
static_assert(detseg::float_output<vec_d, 1>);
static_assert(!detseg::float_output<const MatXf, 2>);
static_assert(!detseg::float_output<tensor<int, 2>, 2>);
static_assert(!detseg::float_output<vec_f, 2>);
static_assert(!detseg::float_output<strided_view<const double, 2>, 2>);

template <detseg::score_source S>
const char* role(const S&) {
    return "scores";
}
template <detseg::label_source S>
const char* role(const S&) {
    return "labels";
}
template <class S>
    requires(!detseg::score_source<S> && !detseg::label_source<S>)
const char* role(const S&) {
    return "neither";
}

template <class S>
constexpr bool accepted_as_boxes(const S&) {
    return box_source<const S&>;
}

} // namespace

TEST_CASE("role concepts choose between overloads") {
    CHECK(std::string(role(vec_f{0.5f})) == "scores");
    CHECK(std::string(role(std::vector<std::int16_t>{1, 2})) == "labels");
    CHECK(std::string(role(Eigen::VectorXd::Zero(3).eval())) == "scores");
    CHECK(std::string(role(std::list<float>{1.0f})) == "neither");
    CHECK(std::string(role(tensor<float, 3>({1, 1, 1}))) == "neither");
    CHECK(accepted_as_boxes(std::vector<xyxy_float>{{0, 0, 1, 1}}));
    CHECK_FALSE(accepted_as_boxes(std::vector<xywh_only>{{0, 0, 1, 1}}));
    CHECK_FALSE(accepted_as_boxes(std::list<float>{0, 0, 1, 1}));
}
