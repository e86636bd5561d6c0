#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

using detseg::index_t;
using detseg::tensor;

namespace {

namespace fs = std::filesystem;

/// A unique path under the system temporary directory, removed on destruction.
class temp_file {
public:
    temp_file() {
        static std::atomic<unsigned> counter{0};
        std::random_device rd;
        const auto tag =
            std::to_string(rd()) + "_" + std::to_string(rd()) + "_" + std::to_string(counter++);
        path_ = fs::temp_directory_path() / ("detseg_npy_test_" + tag + ".npy");
    }
    ~temp_file() {
        std::error_code ec;
        fs::remove(path_, ec);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    [[nodiscard]] std::string str() const { return path_.string(); }

private:
    fs::path path_;
};

std::string data_path(const std::string& rel) {
    return std::string(DETSEG_TEST_DATA_DIR) + "/" + rel;
}

std::vector<unsigned char> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

/// An .npy file: magic, version, header length, `dict` padded with spaces to 64-byte alignment
/// and a newline, then `payload`.
std::vector<unsigned char> npy_file(const std::string& dict,
                                    const std::vector<unsigned char>& payload, int major = 1) {
    const std::size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict;
    const std::size_t unpadded = prefix + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header.push_back('\n');
    std::vector<unsigned char> out = {
        0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
    const std::size_t n = header.size();
    out.push_back(static_cast<unsigned char>(n & 0xff));
    out.push_back(static_cast<unsigned char>((n >> 8) & 0xff));
    if (major != 1) {
        out.push_back(static_cast<unsigned char>((n >> 16) & 0xff));
        out.push_back(static_cast<unsigned char>((n >> 24) & 0xff));
    }
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

template <class T>
void append_value(std::vector<unsigned char>& out, T v, bool big_endian) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    const bool native_big = std::endian::native == std::endian::big;
    if (big_endian != native_big)
        for (std::size_t i = 0; i < sizeof(T); ++i)
            out.push_back(b[sizeof(T) - 1 - i]);
    else
        out.insert(out.end(), b, b + sizeof(T));
}

template <class T>
T pattern(index_t k) {
    if constexpr (std::is_floating_point_v<T>)
        return T(k) * T(0.25) - T(3.5);
    else if constexpr (std::is_signed_v<T>)
        return T(k * 1000003 % 4001 - 2000);
    else
        return T(k * 37 % 251);
}

template <class T, std::size_t R>
tensor<T, R> patterned(const std::array<index_t, R>& extents) {
    tensor<T, R> t(extents);
    index_t k = 0;
    for (T& x : t.flat())
        x = pattern<T>(k++);
    return t;
}

template <class T>
std::string dtype_of() {
    const char endian =
        sizeof(T) == 1 ? '|' : (std::endian::native == std::endian::little ? '<' : '>');
    return std::string(1, endian) + detseg::npy_kind<T>() + std::to_string(sizeof(T));
}

std::string header_text(const std::vector<unsigned char>& file) {
    REQUIRE(file.size() >= 10);
    const std::size_t n = file[8] | (std::size_t(file[9]) << 8);
    REQUIRE(file.size() >= 10 + n);
    return std::string(file.begin() + 10, file.begin() + 10 + static_cast<std::ptrdiff_t>(n));
}

template <class T, std::size_t R>
void check_round_trip(const std::array<index_t, R>& extents) {
    CAPTURE(dtype_of<T>());
    CAPTURE(R);
    const auto t = patterned<T, R>(extents);
    temp_file f;
    detseg::save_npy(f.str(), t);
    const auto a = detseg::load_npy(f.str());
    CHECK(a.kind == detseg::npy_kind<T>());
    CHECK(a.itemsize == sizeof(T));
    CHECK(a.holds<T>());
    CHECK(a.shape == std::vector<index_t>(extents.begin(), extents.end()));
    CHECK(a.size() == t.size());
    CHECK(a.bytes.size() == static_cast<std::size_t>(t.size()) * sizeof(T));
    const auto back = a.as<T, R>();
    CHECK(back == t);
}

} // namespace

TEST_CASE_TEMPLATE("save_npy then load_npy returns the same tensor", T, float, double, std::int64_t,
                   std::uint8_t) {
    check_round_trip<T, 1>({7});
    check_round_trip<T, 2>({5, 4});
    check_round_trip<T, 3>({2, 3, 5});
    check_round_trip<T, 1>({1});
    check_round_trip<T, 3>({1, 1, 1});
}

TEST_CASE_TEMPLATE("other integer widths round trip", T, std::int8_t, std::int16_t, std::int32_t,
                   std::uint16_t, std::uint32_t, std::uint64_t) {
    check_round_trip<T, 2>({3, 4});
}

TEST_CASE("save_npy writes a standard header") {
    temp_file f;
    detseg::save_npy(f.str(), patterned<float, 2>({3, 4}));
    const auto bytes = read_bytes(f.str());
    REQUIRE(bytes.size() > 10);
    CHECK(bytes[0] == 0x93);
    CHECK(std::string(bytes.begin() + 1, bytes.begin() + 6) == "NUMPY");
    CHECK(bytes[6] == 1);
    CHECK(bytes[7] == 0);
    const std::string h = header_text(bytes);
    CHECK((10 + h.size()) % 64 == 0);
    CHECK(h.back() == '\n');
    CHECK(
        h.rfind("{'descr': '" + dtype_of<float>() + "', 'fortran_order': False, 'shape': (3, 4), }",
                0) == 0);
    CHECK(bytes.size() == 10 + h.size() + 12 * sizeof(float));

    temp_file g;
    detseg::save_npy(g.str(), std::vector<double>{1, 2, 3, 4, 5});
    const std::string h1 = header_text(read_bytes(g.str()));
    CHECK(h1.find("'shape': (5,)") != std::string::npos);

    temp_file u;
    detseg::save_npy(u.str(), std::vector<std::uint8_t>{1, 2});
    CHECK(header_text(read_bytes(u.str())).find("'descr': '|u1'") != std::string::npos);
}

TEST_CASE_TEMPLATE("a strided source is written in logical order", T, float, double, std::int64_t) {
    const auto t = patterned<T, 2>({3, 4});
    const auto transposed = detseg::make_view(t.data(), {4, 3}, {1, 4});
    temp_file f;
    detseg::save_npy(f.str(), transposed);
    const auto back = detseg::load_npy(f.str()).as<T, 2>();
    REQUIRE(back.extents() == std::array<index_t, 2>{4, 3});
    for (index_t i = 0; i < 4; ++i)
        for (index_t j = 0; j < 3; ++j)
            CHECK(back(i, j) == t(j, i));

    const auto cube = patterned<T, 3>({4, 3, 6});
    const auto strided = detseg::make_view(cube.data() + 3 * 18 + 5, {2, 3, 3}, {-36, 6, -2});
    temp_file g;
    detseg::save_npy(g.str(), strided);
    const auto back3 = detseg::load_npy(g.str()).as<T, 3>();
    REQUIRE(back3.extents() == std::array<index_t, 3>{2, 3, 3});
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            for (index_t k = 0; k < 3; ++k)
                CHECK(back3(i, j, k) == strided(i, j, k));
}

TEST_CASE("contiguous ranges are saved as rank 1") {
    const std::array<double, 3> arr{1.5, -2.5, 3.25};
    temp_file f;
    detseg::save_npy(f.str(), arr);
    const auto back = detseg::load_npy(f.str()).as<double, 1>();
    REQUIRE(back.size() == 3);
    CHECK(back(0) == 1.5);
    CHECK(back(1) == -2.5);
    CHECK(back(2) == 3.25);
}

TEST_CASE("a |b1 bool file loads as std::uint8_t zeros and ones") {
    const std::vector<unsigned char> flags = {1, 0, 0, 1, 1, 0};
    temp_file f;
    write_bytes(f.str(),
                npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 3), }", flags));
    const auto a = detseg::load_npy(f.str());
    CHECK(a.kind == 'b');
    CHECK(a.itemsize == 1);
    CHECK(a.holds<bool>());
    CHECK_FALSE(a.holds<std::uint8_t>());
    CHECK(a.shape == std::vector<index_t>{2, 3});
    const auto t = a.as<std::uint8_t, 2>();
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            CHECK(t(i, j) == flags[static_cast<std::size_t>(3 * i + j)]);
    CHECK_THROWS_AS(((void)a.as<std::int8_t, 2>()), detseg::io_error);

    temp_file g;
    write_bytes(g.str(), npy_file("{'descr': '|b1', 'fortran_order': True, 'shape': (2, 3), }",
                                  {1, 1, 0, 0, 0, 1}));
    const auto fortran = detseg::load_npy(g.str()).as<std::uint8_t, 2>();
    CHECK(fortran(0, 0) == 1);
    CHECK(fortran(1, 0) == 1);
    CHECK(fortran(0, 1) == 0);
    CHECK(fortran(1, 2) == 1);
}

TEST_CASE("masks saved as std::uint8_t round trip") {
    const std::uint8_t mask[6] = {1, 0, 0, 1, 1, 0};
    temp_file f;
    detseg::save_npy(f.str(), detseg::make_view(mask, {2, 3}));
    const auto a = detseg::load_npy(f.str());
    CHECK(a.holds<std::uint8_t>());
    const auto t = a.as<std::uint8_t, 2>();
    CHECK(t(0, 0) == 1);
    CHECK(t(1, 2) == 0);
}

TEST_CASE_TEMPLATE("an empty 0x4 array round trips", T, float, double, std::int64_t) {
    const tensor<T, 2> empty({0, 4});
    temp_file f;
    detseg::save_npy(f.str(), empty);
    CHECK(header_text(read_bytes(f.str())).find("'shape': (0, 4)") != std::string::npos);
    const auto a = detseg::load_npy(f.str());
    CHECK(a.shape == std::vector<index_t>{0, 4});
    CHECK(a.size() == 0);
    CHECK(a.bytes.empty());
    const auto back = a.as<T, 2>();
    CHECK(back.extents() == std::array<index_t, 2>{0, 4});
    CHECK(back.empty());
    CHECK(back == empty);
}

TEST_CASE("as<T, R> requires the stored dtype and rank") {
    temp_file f;
    detseg::save_npy(f.str(), patterned<float, 2>({2, 4}));
    const auto a = detseg::load_npy(f.str());
    CHECK_NOTHROW(((void)a.as<float, 2>()));
    CHECK_THROWS_AS(((void)a.as<double, 2>()), detseg::io_error);
    CHECK_THROWS_AS(((void)a.as<std::int32_t, 2>()), detseg::io_error);
    CHECK_THROWS_AS(((void)a.as<std::uint32_t, 2>()), detseg::io_error);
    CHECK_THROWS_AS(((void)a.as<float, 1>()), detseg::io_error);
    CHECK_THROWS_AS(((void)a.as<float, 3>()), detseg::io_error);
    CHECK_FALSE(a.holds<double>());
    CHECK_FALSE(a.holds<std::int32_t>());

    temp_file g;
    detseg::save_npy(g.str(), std::vector<std::int64_t>{1, 2, 3});
    const auto b = detseg::load_npy(g.str());
    CHECK(b.holds<std::int64_t>());
    CHECK_THROWS_AS(((void)b.as<std::uint64_t, 1>()), detseg::io_error);
    CHECK_THROWS_AS(((void)b.as<std::int32_t, 1>()), detseg::io_error);
    CHECK_THROWS_AS(((void)b.as<double, 1>()), detseg::io_error);
    CHECK_THROWS_WITH(((void)b.as<std::int32_t, 1>()),
                      "detseg::npy_array::as: stored dtype is 'i8', requested 'i4'");
    CHECK_THROWS_WITH(((void)b.as<std::int64_t, 2>()),
                      "detseg::npy_array::as: stored rank is 1, requested 2");
}

TEST_CASE("load_npy errors") {
    SUBCASE("a missing file") {
        temp_file f;
        CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
        CHECK_THROWS_AS((void)detseg::load_npy(data_path("box/does_not_exist.npy")),
                        detseg::io_error);
    }
    SUBCASE("a file that is not a .npy") {
        temp_file f;
        const std::string text = "x,y\n1,2\n3,4\n";
        write_bytes(f.str(), std::vector<unsigned char>(text.begin(), text.end()));
        CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
        CHECK_THROWS_AS((void)detseg::load_npy(data_path("box/manifest.json")), detseg::io_error);
    }
    SUBCASE("a file shorter than the magic string") {
        temp_file f;
        write_bytes(f.str(), {0x93, 'N', 'U'});
        CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
        temp_file e;
        write_bytes(e.str(), {});
        CHECK_THROWS_AS((void)detseg::load_npy(e.str()), detseg::io_error);
    }
    SUBCASE("truncated data") {
        temp_file f;
        detseg::save_npy(f.str(), patterned<double, 2>({4, 4}));
        auto bytes = read_bytes(f.str());
        bytes.resize(bytes.size() - 9);
        write_bytes(f.str(), bytes);
        CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
    }
    SUBCASE("a truncated header") {
        temp_file f;
        detseg::save_npy(f.str(), patterned<float, 1>({3}));
        auto bytes = read_bytes(f.str());
        bytes.resize(40);
        write_bytes(f.str(), bytes);
        CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
    }
    SUBCASE("unsupported dtypes") {
        for (const std::string descr : {"<c8", "<f2", "<U4", "|b2", "<i3", "|O"}) {
            CAPTURE(descr);
            temp_file f;
            write_bytes(f.str(), npy_file("{'descr': '" + descr +
                                              "', 'fortran_order': False, 'shape': (2,), }",
                                          std::vector<unsigned char>(64, 0)));
            CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
        }
    }
    SUBCASE("a malformed shape") {
        temp_file f;
        write_bytes(f.str(),
                    npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
                             std::vector<unsigned char>(24, 0)));
        CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
    }
    SUBCASE("an unterminated shape") {
        temp_file f;
        write_bytes(f.str(), npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3",
                                      std::vector<unsigned char>(24, 0)));
        CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
    }
    SUBCASE("a header without a shape") {
        temp_file f;
        write_bytes(f.str(), npy_file("{'descr': '<f4', 'fortran_order': False, }",
                                      std::vector<unsigned char>(8, 0)));
        CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
    }
}

TEST_CASE("a header with a malformed descr or an empty shape value is an io_error") {
    for (const std::string dict : {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }",
                                   "{'descr': '<f4', 'fortran_order': False, 'shape':"}) {
        CAPTURE(dict);
        temp_file f;
        write_bytes(f.str(), npy_file(dict, std::vector<unsigned char>(24, 0)));
        CHECK_THROWS_AS((void)detseg::load_npy(f.str()), detseg::io_error);
    }
}

TEST_CASE("a dtype with a non-numeric size is an io_error") {
    temp_file f;
    write_bytes(f.str(), npy_file("{'descr': '<fx', 'fortran_order': False, 'shape': (2,), }",
                                  std::vector<unsigned char>(16, 0)));
    try {
        (void)detseg::load_npy(f.str());
        FAIL("no exception");
    } catch (const detseg::io_error&) {
        CHECK(true);
    } catch (const std::exception& e) {
        FAIL(std::string("threw another exception: ").append(e.what()));
    }
}

TEST_CASE("a big-endian Fortran-order file loads in C order") {
    const double m[2][3] = {{1.5, -2.0, 3.25}, {4.0, 5.5, -6.125}};
    std::vector<unsigned char> payload;
    for (int j = 0; j < 3; ++j)
        for (int i = 0; i < 2; ++i)
            append_value(payload, m[i][j], true);
    temp_file f;
    write_bytes(f.str(),
                npy_file("{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }", payload));
    const auto a = detseg::load_npy(f.str());
    CHECK(a.holds<double>());
    CHECK(a.shape == std::vector<index_t>{2, 3});
    const auto t = a.as<double, 2>();
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            CHECK(t(i, j) == m[i][j]);
}

TEST_CASE("a little-endian rank-3 Fortran-order file loads in C order") {
    std::vector<unsigned char> payload;
    for (int k = 0; k < 4; ++k)
        for (int j = 0; j < 3; ++j)
            for (int i = 0; i < 2; ++i)
                append_value(payload, std::int32_t(100 * i + 10 * j + k), false);
    temp_file f;
    write_bytes(f.str(),
                npy_file("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }", payload));
    const auto t = detseg::load_npy(f.str()).as<std::int32_t, 3>();
    REQUIRE(t.extents() == std::array<index_t, 3>{2, 3, 4});
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            for (index_t k = 0; k < 4; ++k)
                CHECK(t(i, j, k) == std::int32_t(100 * i + 10 * j + k));
}

TEST_CASE("big-endian C-order files of several types") {
    SUBCASE("float32") {
        std::vector<unsigned char> payload;
        for (float x : {1.0f, -0.5f, 3.0e-7f, 65504.0f})
            append_value(payload, x, true);
        temp_file f;
        write_bytes(f.str(), npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }",
                                      payload));
        const auto t = detseg::load_npy(f.str()).as<float, 2>();
        CHECK(t(0, 0) == 1.0f);
        CHECK(t(0, 1) == -0.5f);
        CHECK(t(1, 0) == 3.0e-7f);
        CHECK(t(1, 1) == 65504.0f);
    }
    SUBCASE("int16") {
        std::vector<unsigned char> payload;
        for (std::int16_t x : {std::int16_t{1}, std::int16_t{-2}, std::int16_t{300}})
            append_value(payload, x, true);
        temp_file f;
        write_bytes(f.str(),
                    npy_file("{'descr': '>i2', 'fortran_order': False, 'shape': (3,), }", payload));
        const auto t = detseg::load_npy(f.str()).as<std::int16_t, 1>();
        CHECK(t(0) == 1);
        CHECK(t(1) == -2);
        CHECK(t(2) == 300);
    }
    SUBCASE("uint64") {
        std::vector<unsigned char> payload;
        append_value(payload, std::uint64_t{0x0102030405060708ull}, true);
        temp_file f;
        write_bytes(f.str(),
                    npy_file("{'descr': '>u8', 'fortran_order': False, 'shape': (1,), }", payload));
        CHECK(detseg::load_npy(f.str()).as<std::uint64_t, 1>()(0) == 0x0102030405060708ull);
    }
}

TEST_CASE("single-byte and rank-1 Fortran-order files need no reordering") {
    const std::vector<unsigned char> u8 = {1, 4, 2, 5, 3, 6};
    temp_file f;
    write_bytes(f.str(),
                npy_file("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }", u8));
    const auto t = detseg::load_npy(f.str()).as<std::uint8_t, 2>();
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            CHECK(t(i, j) == std::uint8_t(1 + 3 * i + j));

    std::vector<unsigned char> payload;
    for (double x : {1.0, 2.0, 3.0})
        append_value(payload, x, false);
    temp_file g;
    write_bytes(g.str(),
                npy_file("{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }", payload));
    const auto v = detseg::load_npy(g.str()).as<double, 1>();
    CHECK(v(0) == 1.0);
    CHECK(v(2) == 3.0);
}

TEST_CASE("format versions 2.0 and 3.0 use a four-byte header length") {
    for (int major : {2, 3}) {
        CAPTURE(major);
        std::vector<unsigned char> payload;
        for (float x : {0.5f, 1.5f, 2.5f})
            append_value(payload, x, false);
        temp_file f;
        write_bytes(f.str(), npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1), }",
                                      payload, major));
        const auto t = detseg::load_npy(f.str()).as<float, 2>();
        REQUIRE(t.extents() == std::array<index_t, 2>{3, 1});
        CHECK(t(2, 0) == 2.5f);
    }
}

TEST_CASE("a header written by another writer: key order and spacing") {
    std::vector<unsigned char> payload;
    for (std::int64_t x : {7, 8, 9, 10})
        append_value(payload, x, false);
    temp_file f;
    write_bytes(f.str(), npy_file("{'shape':(2,2),'fortran_order':False,'descr':'<i8'}", payload));
    const auto t = detseg::load_npy(f.str()).as<std::int64_t, 2>();
    CHECK(t(0, 0) == 7);
    CHECK(t(1, 1) == 10);
}

TEST_CASE("a scalar file has an empty shape and one element") {
    std::vector<unsigned char> payload;
    append_value(payload, 2.75, false);
    temp_file f;
    write_bytes(f.str(),
                npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", payload));
    const auto a = detseg::load_npy(f.str());
    CHECK(a.shape.empty());
    CHECK(a.size() == 1);
    REQUIRE(a.bytes.size() == 8);
    double x = 0;
    std::memcpy(&x, a.bytes.data(), 8);
    CHECK(x == 2.75);
    CHECK_THROWS_AS(((void)a.as<double, 1>()), detseg::io_error);
}

TEST_CASE("the float32 box fixture loads as 160x4") {
    const auto a = detseg::load_npy(data_path("box/clustered_f32_a.npy"));
    CHECK(a.kind == 'f');
    CHECK(a.itemsize == 4);
    CHECK(a.shape == std::vector<index_t>{160, 4});
    const auto t = a.as<float, 2>();
    CHECK(t(0, 0) == 1222.7366943359375f);
    CHECK(t(0, 1) == 563.0863647460938f);
    CHECK(t(0, 2) == 1233.9652099609375f);
    CHECK(t(0, 3) == 578.1515502929688f);
    CHECK(t(1, 0) == 848.2211303710938f);
    CHECK(t(159, 0) == 147.07998657226562f);
    CHECK(t(159, 3) == 297.3499755859375f);
    int inverted = 0;
    for (index_t i = 0; i < 160; ++i)
        inverted += t(i, 2) < t(i, 0) || t(i, 3) < t(i, 1);
    CHECK(inverted == 0);
}

TEST_CASE("the int64 index fixture loads and agrees with its boxes") {
    const auto a = detseg::load_npy(data_path("box/clustered_f64_small_a.npy"));
    CHECK(a.kind == 'i');
    CHECK(a.itemsize == 8);
    CHECK(a.holds<std::int64_t>());
    const auto keep = a.as<std::int64_t, 1>();
    REQUIRE(keep.extent(0) == 134);
    CHECK(keep(0) == 1);
    CHECK(keep(9) == 10);
    CHECK(keep(133) == 159);
    int unordered = 0;
    for (index_t k = 1; k < 134; ++k)
        unordered += keep(k) <= keep(k - 1);
    CHECK(unordered == 0);

    const auto boxes = detseg::load_npy(data_path("box/clustered_f64_a.npy")).as<double, 2>();
    REQUIRE(boxes.extent(0) == 160);
    std::vector<bool> big(160, false);
    for (index_t i = 0; i < 160; ++i)
        big[static_cast<std::size_t>(i)] =
            boxes(i, 2) - boxes(i, 0) >= 16.0 && boxes(i, 3) - boxes(i, 1) >= 16.0;
    std::vector<bool> kept(160, false);
    for (index_t k = 0; k < 134; ++k)
        kept[static_cast<std::size_t>(keep(k))] = true;
    CHECK(kept == big);
}
