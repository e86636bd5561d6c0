#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/io/png.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using detseg::index_t;
using detseg::tensor;

namespace {

namespace fs = std::filesystem;

const std::string data_dir = std::string(DETSEG_TEST_DATA_DIR) + "/png/";

/// A unique path under the system temporary directory, removed on destruction.
class temp_png {
public:
    temp_png() {
        static std::atomic<unsigned> counter{0};
        std::random_device rd;
        const auto tag =
            std::to_string(rd()) + "_" + std::to_string(rd()) + "_" + std::to_string(counter++);
        path_ = fs::temp_directory_path() / ("detseg_png_test_" + tag + ".png");
    }
    ~temp_png() {
        std::error_code ec;
        fs::remove(path_, ec);
    }
    temp_png(const temp_png&) = delete;
    temp_png& operator=(const temp_png&) = delete;
    [[nodiscard]] std::string str() const { return path_.string(); }

private:
    fs::path path_;
};

template <class T>
bool same(const tensor<T, 2>& a, const tensor<T, 2>& b) {
    return a.extents() == b.extents() &&
           std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)) == 0;
}

template <class T>
tensor<T, 2> random_map(index_t h, index_t w, unsigned seed) {
    tensor<T, 2> t({h, w});
    std::mt19937 rng(seed);
    for (index_t k = 0; k < t.size(); ++k)
        t.data()[k] = static_cast<T>(rng());
    return t;
}

std::string error_of(const std::string& path) {
    try {
        (void)detseg::read_png_label_map(path);
    } catch (const detseg::io_error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("read_png_label_map: fixtures written by OpenCV and by the reference chunk writer") {
    SUBCASE("8-bit grayscale") {
        const auto m = detseg::read_png_label_map(data_dir + "gray8.png");
        CHECK(m.format == detseg::png_label_format::gray);
        CHECK(m.bit_depth == 8);
        CHECK(m.labels16.size() == 0);
        const auto want = detseg::load_npy(data_dir + "gray8_labels.npy").as<std::uint8_t, 2>();
        CHECK(same(m.labels8, want));
        CHECK(m.height() == 7);
        CHECK(m.width() == 5);
        CHECK(m.labels8(6, 4) == 255);
    }
    SUBCASE("16-bit grayscale, native byte order") {
        const auto m = detseg::read_png_label_map(data_dir + "gray16.png");
        CHECK(m.bit_depth == 16);
        CHECK(m.labels8.size() == 0);
        const auto want = detseg::load_npy(data_dir + "gray16_labels.npy").as<std::uint16_t, 2>();
        CHECK(same(m.labels16, want));
        CHECK(m.labels16(1, 1) == 258);
        CHECK(m.labels16(5, 8) == 65535);
    }
    SUBCASE("palette: the indices, not the colours") {
        const auto m = detseg::read_png_label_map(data_dir + "palette8.png");
        CHECK(m.format == detseg::png_label_format::palette);
        const auto want = detseg::load_npy(data_dir + "palette8_labels.npy").as<std::uint8_t, 2>();
        CHECK(same(m.labels8, want));
    }
    SUBCASE("4-bit grayscale: values unscaled") {
        const auto m = detseg::read_png_label_map(data_dir + "gray4.png");
        CHECK(m.bit_depth == 4);
        const auto want = detseg::load_npy(data_dir + "gray4_labels.npy").as<std::uint8_t, 2>();
        CHECK(same(m.labels8, want));
        CHECK(m.labels8(2, 4) == 15);
    }
}

TEST_CASE("load_png_labels: widening, and a 16-bit file refused as 8-bit") {
    const auto want8 = detseg::load_npy(data_dir + "gray8_labels.npy").as<std::uint8_t, 2>();
    CHECK(same(detseg::load_png_labels(data_dir + "gray8.png"), want8));
    const auto as16 = detseg::load_png_labels<std::uint16_t>(data_dir + "gray8.png");
    const auto as32 = detseg::load_png_labels<std::int32_t>(data_dir + "gray8.png");
    for (index_t k = 0; k < want8.size(); ++k) {
        CHECK(as16.data()[k] == want8.data()[k]);
        CHECK(as32.data()[k] == want8.data()[k]);
    }
    const auto want16 = detseg::load_npy(data_dir + "gray16_labels.npy").as<std::uint16_t, 2>();
    CHECK(same(detseg::load_png_labels<std::uint16_t>(data_dir + "gray16.png"), want16));
    const auto wide = detseg::load_png_labels<std::int64_t>(data_dir + "gray16.png");
    CHECK(wide(5, 8) == 65535);
    CHECK_THROWS_WITH_AS((void)detseg::load_png_labels<std::uint8_t>(data_dir + "gray16.png"),
                         doctest::Contains("the file is 16-bit"), detseg::io_error);
    CHECK_THROWS_WITH_AS((void)detseg::load_png_labels(data_dir + "rgb.png"),
                         doctest::Contains("detseg::load_png_labels: '"), detseg::io_error);
}

TEST_CASE("save_png_labels then read: 8-bit, 16-bit, palette, strided") {
    temp_png f;
    SUBCASE("8-bit grayscale") {
        const auto t = random_map<std::uint8_t>(37, 53, 1);
        detseg::save_png_labels(f.str(), t);
        const auto m = detseg::read_png_label_map(f.str());
        CHECK(m.format == detseg::png_label_format::gray);
        CHECK(m.bit_depth == 8);
        CHECK(same(m.labels8, t));
    }
    SUBCASE("16-bit grayscale") {
        const auto t = random_map<std::uint16_t>(19, 64, 2);
        detseg::save_png_labels(f.str(), t);
        const auto m = detseg::read_png_label_map(f.str());
        CHECK(m.bit_depth == 16);
        CHECK(same(m.labels16, t));
    }
    SUBCASE("8-bit palette") {
        const auto t = random_map<std::uint8_t>(8, 300, 3);
        detseg::save_png_labels(f.str(), t, {.palette = true});
        const auto m = detseg::read_png_label_map(f.str());
        CHECK(m.format == detseg::png_label_format::palette);
        CHECK(same(m.labels8, t));
    }
    SUBCASE("a transposed (strided) view") {
        const auto t = random_map<std::uint8_t>(5, 9, 4);
        const detseg::strided_view<const std::uint8_t, 2> tr(t.data(), {9, 5}, {1, 9});
        detseg::save_png_labels(f.str(), tr);
        const auto m = detseg::read_png_label_map(f.str());
        REQUIRE(m.height() == 9);
        REQUIRE(m.width() == 5);
        for (index_t y = 0; y < 9; ++y)
            for (index_t x = 0; x < 5; ++x)
                CHECK(m.labels8(y, x) == t(x, y));
    }
    SUBCASE("a 1×1 map") {
        tensor<std::uint16_t, 2> t({1, 1}, 4242);
        detseg::save_png_labels(f.str(), t);
        CHECK(detseg::load_png_labels<std::uint16_t>(f.str())(0, 0) == 4242);
    }
}

TEST_CASE("read_png_label_map: errors name the file and the problem") {
    const std::string missing = data_dir + "no_such_file.png";
    CHECK(error_of(missing) ==
          "detseg::read_png_label_map: '" + missing + "': cannot read the file");
    const std::string text = data_dir + "not_a_png.png";
    CHECK(error_of(text) ==
          "detseg::read_png_label_map: '" + text + "': not a PNG file (bad signature)");
    const std::string truncated = data_dir + "truncated.png";
    const std::string e_trunc = error_of(truncated);
    CHECK(contains(e_trunc, "detseg::read_png_label_map: '" + truncated + "': "));
    CHECK(contains(e_trunc, "truncated"));
    const std::string rgb = data_dir + "rgb.png";
    CHECK(error_of(rgb) ==
          "detseg::read_png_label_map: '" + rgb +
              "': colour type RGB (3 channels), but a label map must be grayscale or palette "
              "(one channel)");

    temp_png f;
    SUBCASE("an empty file") {
        std::ofstream(f.str(), std::ios::binary).flush();
        CHECK(contains(error_of(f.str()), "not a PNG file"));
    }
    SUBCASE("only part of the signature") {
        std::ofstream(f.str(), std::ios::binary).write("\x89PNG", 4);
        CHECK(contains(error_of(f.str()), "shorter than the PNG signature"));
    }
    SUBCASE("every prefix of a valid file is rejected, never read") {
        std::ifstream in(data_dir + "gray16.png", std::ios::binary);
        const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                      std::istreambuf_iterator<char>());
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            std::ofstream(f.str(), std::ios::binary | std::ios::trunc)
                .write(bytes.data(), static_cast<std::streamsize>(n));
            CHECK(contains(error_of(f.str()), "detseg::read_png_label_map: '" + f.str() + "': "));
        }
    }
    SUBCASE("a corrupt byte in the image data (CRC)") {
        std::ifstream in(data_dir + "gray8.png", std::ios::binary);
        std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
        bytes[bytes.size() - 20] = static_cast<char>(bytes[bytes.size() - 20] ^ 0x5a);
        std::ofstream(f.str(), std::ios::binary)
            .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        CHECK(contains(error_of(f.str()), "detseg::read_png_label_map: '" + f.str() + "': "));
    }
}

TEST_CASE("save_png_labels: errors") {
    const tensor<std::uint8_t, 2> t({2, 2}, 1);
    const std::string bad = data_dir + "no_such_dir/out.png";
    CHECK_THROWS_WITH_AS(
        detseg::save_png_labels(bad, t),
        ("detseg::save_png_labels: '" + bad + "': cannot open the file for writing").c_str(),
        detseg::io_error);
    temp_png f;
    CHECK_THROWS_WITH_AS(detseg::save_png_labels(f.str(), tensor<std::uint8_t, 2>({0, 3})),
                         doctest::Contains("cannot write an empty map (0x3)"), detseg::io_error);
    CHECK_THROWS_WITH_AS(
        detseg::save_png_labels(f.str(), tensor<std::uint16_t, 2>({2, 2}), {.palette = true}),
        doctest::Contains("a palette image needs 8-bit labels"), detseg::io_error);
}

TEST_CASE("load_png_rgb equals OpenCV's imread(IMREAD_COLOR) in RGB order") {
    // RGB as stored; 8- and 4-bit gray replicated (4-bit expanded to 8 bits); 16-bit gray cut to
    // its high byte; palette looked up.
    for (const char* name : {"rgb", "gray8", "gray16", "palette8", "gray4"}) {
        CAPTURE(name);
        const auto got = detseg::load_png_rgb(data_dir + name + ".png");
        const auto want =
            detseg::load_npy(data_dir + name + "_rgb.npy").as<std::uint8_t, 3>();
        REQUIRE(got.extent(0) == want.extent(0));
        REQUIRE(got.extent(1) == want.extent(1));
        REQUIRE(got.extent(2) == 3);
        REQUIRE(want.extent(2) == 3);
        CHECK(std::memcmp(got.data(), want.data(), want.flat().size()) == 0);
    }
}

TEST_CASE("load_png_rgb round-trips a label map written by save_png_labels as gray") {
    temp_png f;
    tensor<std::uint8_t, 2> t({3, 4});
    for (index_t i = 0; i < 12; ++i)
        t.data()[i] = static_cast<std::uint8_t>(i * 21);
    detseg::save_png_labels(f.str(), t);
    const auto img = detseg::load_png_rgb(f.str());
    REQUIRE(img.extent(0) == 3);
    REQUIRE(img.extent(1) == 4);
    for (index_t y = 0; y < 3; ++y)
        for (index_t x = 0; x < 4; ++x)
            for (index_t c = 0; c < 3; ++c)
                CHECK(img(y, x, c) == t(y, x));
}

TEST_CASE("load_png_rgb: errors name the function, the file and the problem") {
    auto message = [](const std::string& path) {
        try {
            (void)detseg::load_png_rgb(path);
        } catch (const detseg::io_error& e) {
            return std::string(e.what());
        }
        return std::string("no exception");
    };
    const std::string missing = data_dir + "no_such_file.png";
    CHECK(message(missing) == "detseg::load_png_rgb: '" + missing + "': cannot read the file");
    const std::string text = data_dir + "not_a_png.png";
    CHECK(message(text) == "detseg::load_png_rgb: '" + text + "': not a PNG file (bad signature)");
    const std::string truncated = data_dir + "truncated.png";
    const std::string e = message(truncated);
    CHECK(contains(e, "detseg::load_png_rgb: '" + truncated + "': "));
    CHECK(contains(e, "truncated"));
}
