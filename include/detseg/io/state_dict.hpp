#ifndef DETSEG_IO_STATE_DICT_HPP
#define DETSEG_IO_STATE_DICT_HPP

/// @file
/// `load_state_dict<T>(folder)`: a folder of `<key>.npy` files (as written by
/// `for k, v in model.state_dict().items(): numpy.save(f"{folder}/{k}.npy", v.numpy())`) as
/// `named_tensors<T>`.

#include <detseg/core/error.hpp>
#include <detseg/core/named_tensors.hpp>
#include <detseg/io/npy.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

namespace detseg {

namespace detail {

template <class T, class S>
void npy_convert(const npy_array& a, std::vector<T>& out) {
    const std::size_t n = a.bytes.size() / sizeof(S);
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        S s;
        std::memcpy(&s, a.bytes.data() + i * sizeof(S), sizeof(S));
        out[i] = static_cast<T>(s);
    }
}

} // namespace detail

/// Reads every `<key>.npy` file of `folder` (not its sub-folders) into `named_tensors<T>` under
/// `<key>` (the file name without `.npy`). float32, float64 and integer arrays are converted to
/// `T` (a BatchNorm's int64 `num_batches_tracked` too; modules ignore keys they do not use).
/// O(total size).
/// @throws detseg::io_error if the folder cannot be read or a file is not a readable `.npy` of
///         a numeric type.
template <class T>
[[nodiscard]] named_tensors<T> load_state_dict(const std::string& folder) {
    static_assert(std::is_floating_point_v<T>, "detseg::load_state_dict: T must be float or double");
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
        throw io_error("detseg::load_state_dict: '" + folder + "' is not a readable folder");
    named_tensors<T> out;
    for (const auto& entry : fs::directory_iterator(folder)) {
        const fs::path& p = entry.path();
        if (!entry.is_regular_file() || p.extension() != ".npy")
            continue;
        const npy_array a = load_npy(p.string());
        std::vector<T> values;
        if (a.kind == 'f' && a.itemsize == 4)
            detail::npy_convert<T, float>(a, values);
        else if (a.kind == 'f' && a.itemsize == 8)
            detail::npy_convert<T, double>(a, values);
        else if (a.kind == 'i' && a.itemsize == 8)
            detail::npy_convert<T, std::int64_t>(a, values);
        else if (a.kind == 'i' && a.itemsize == 4)
            detail::npy_convert<T, std::int32_t>(a, values);
        else if ((a.kind == 'u' || a.kind == 'b') && a.itemsize == 1)
            detail::npy_convert<T, std::uint8_t>(a, values);
        else
            throw io_error(detail::concat("detseg::load_state_dict: unsupported dtype '", a.kind,
                                          a.itemsize, "' in '", p.string(), "'"));
        out.insert(p.stem().string(), a.shape, std::move(values));
    }
    return out;
}

} // namespace detseg

#endif // DETSEG_IO_STATE_DICT_HPP
