#include <detseg/io/npy.hpp>
#include <detseg/io/state_dict.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using detseg::index_t;

TEST_CASE("load_state_dict reads a folder of .npy files under their stems") {
    const auto sd = detseg::load_state_dict<double>(testing::data_path("seg/aspp/small_state"));
    // small: 16 -> 8 channels, rates (1, 2, 3): 6 convolutions, 6 batch norms, and the int64
    // num_batches_tracked the generator adds.
    CHECK(sd.size() == 6 + 6 * 4 + 1);
    const auto* w = sd.find("convs.1.0.weight");
    REQUIRE(w != nullptr);
    CHECK(w->shape == std::vector<index_t>{8, 16, 3, 3});
    CHECK(w->values.size() == 8 * 16 * 9);
    const auto* n = sd.find("convs.0.1.num_batches_tracked");
    REQUIRE(n != nullptr);
    CHECK(n->shape.empty());
    CHECK(n->values == std::vector<double>{0.0});
    // float32 files read as float are the stored numbers.
    const auto sf = detseg::load_state_dict<float>(testing::data_path("seg/aspp/small_state"));
    const auto raw = detseg::load_npy(testing::data_path("seg/aspp/small_state/project.0.weight.npy"))
                         .as<float, 4>();
    const auto* p = sf.find("project.0.weight");
    REQUIRE(p != nullptr);
    CHECK(std::equal(p->values.begin(), p->values.end(), raw.flat().begin()));
    // get<R>: shape checked, message naming key and shape
    CHECK(sf.get<4>("project.0.weight", {8, 40, 1, 1}, "f", "weights").extent(1) == 40);
    testing::expect_invalid([&] { (void)sf.get<4>("project.0.weight", {8, 32, 1, 1}, "f", "weights"); },
                            "f", "weights");
    testing::expect_invalid([&] { (void)sf.get<1>("nope", {3}, "f", "weights"); }, "f", "weights");
}

TEST_CASE("load_state_dict: errors and ignored files") {
    namespace fs = std::filesystem;
    CHECK_THROWS_AS((void)detseg::load_state_dict<float>("/nonexistent/detseg"), detseg::io_error);
    const fs::path dir = fs::temp_directory_path() / "detseg_state_dict_test";
    fs::remove_all(dir);
    fs::create_directories(dir / "sub");
    const std::vector<float> a{1.f, 2.f, 3.f};
    detseg::save_npy((dir / "a.b.npy").string(), a);
    detseg::save_npy((dir / "sub" / "ignored.npy").string(), a);
    std::ofstream(dir / "notes.txt") << "not an array";
    const auto sd = detseg::load_state_dict<double>(dir.string());
    CHECK(sd.size() == 1);
    REQUIRE(sd.find("a.b") != nullptr);
    CHECK(sd.find("a.b")->values == std::vector<double>{1, 2, 3});
    const std::vector<std::uint16_t> u{1, 2};
    detseg::save_npy((dir / "u16.npy").string(), u);
    CHECK_THROWS_AS((void)detseg::load_state_dict<double>(dir.string()), detseg::io_error);
    fs::remove_all(dir);
}

TEST_CASE("named_tensors: insert from values or from any view") {
    detseg::named_tensors<float> t;
    t.insert("x", {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
    testing::expect_invalid([&] { t.insert("y", {2, 2}, std::vector<float>{1, 2, 3}); },
                            "named_tensors::insert", "values");
    testing::expect_invalid([&] { t.insert("y", {-1}, std::vector<float>{}); },
                            "named_tensors::insert", "shape");
    const double col_major[] = {1, 4, 2, 5, 3, 6}; // 2×3, column-major
    t.insert("z", detseg::make_view(col_major, {2, 3}, {1, 2}));
    CHECK(t.find("z")->values == t.find("x")->values);
    CHECK(t.size() == 2);
    CHECK(t.erase("x"));
    CHECK_FALSE(t.contains("x"));
}
