// stats_equal A.json B.json: exit 0 when the "stats" arrays of the two JSON files hold the same
// doubles bit for bit (e.g. `detseg eval coco --json` against a `*.pycocotools.json` file),
// else print the differences and exit 1; exit 2 when a file cannot be read.

#include <simdjson.h>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

bool read_stats(const char* path, std::vector<double>& out) {
    simdjson::dom::parser parser;
    simdjson::padded_string text;
    simdjson::dom::element doc;
    simdjson::dom::array arr;
    if (simdjson::padded_string::load(path).get(text) != simdjson::SUCCESS ||
        parser.parse(text).get(doc) != simdjson::SUCCESS ||
        doc["stats"].get_array().get(arr) != simdjson::SUCCESS) {
        std::fprintf(stderr, "stats_equal: '%s': cannot read a \"stats\" array\n", path);
        return false;
    }
    for (simdjson::dom::element e : arr) {
        double v = 0;
        if (e.get_double().get(v) != simdjson::SUCCESS) {
            std::int64_t i = 0;
            if (e.get_int64().get(i) != simdjson::SUCCESS) {
                std::fprintf(stderr, "stats_equal: '%s': a stat is not a number\n", path);
                return false;
            }
            v = static_cast<double>(i);
        }
        out.push_back(v);
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: stats_equal A.json B.json\n");
        return 2;
    }
    std::vector<double> a, b;
    if (!read_stats(argv[1], a) || !read_stats(argv[2], b))
        return 2;
    if (a.size() != b.size()) {
        std::printf("stats_equal: %zu stats against %zu\n", a.size(), b.size());
        return 1;
    }
    int differ = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i])) {
            std::printf("stats[%zu]: %.17g != %.17g\n", i, a[i], b[i]);
            ++differ;
        }
    if (differ == 0)
        std::printf("stats_equal: %zu stats identical\n", a.size());
    return differ ? 1 : 0;
}
