#ifndef DETSEG_CORE_ERROR_HPP
#define DETSEG_CORE_ERROR_HPP

/// @file
/// The library's exceptions and the helpers that build their messages.
///
/// Every precondition failure throws `detseg::invalid_argument`, whose message names the public
/// function and the argument: `detseg::pairwise_iou: argument 'boxes2': expected 4 columns, got 5`.

#include <detseg/config.hpp>

#include <charconv>
#include <concepts>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace detseg {

/// A precondition of a public function was violated (bad shape, value out of range, NaN, ...).
/// Derives from `std::invalid_argument`; `function()` and `argument()` name the culprit.
class invalid_argument : public std::invalid_argument {
public:
    invalid_argument(std::string_view function, std::string_view argument, std::string_view what)
        : std::invalid_argument(compose(function, argument, what)), function_(function),
          argument_(argument), reason_(what) {}

    /// The public function that rejected its input, without the `detseg::` prefix.
    [[nodiscard]] const std::string& function() const noexcept { return function_; }
    /// The name of the offending parameter.
    [[nodiscard]] const std::string& argument() const noexcept { return argument_; }
    /// What is wrong with it (the message without the function and argument).
    [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

private:
    static std::string compose(std::string_view function, std::string_view argument,
                               std::string_view what) {
        std::string s = "detseg::";
        s.append(function).append(": argument '").append(argument).append("': ").append(what);
        return s;
    }

    std::string function_;
    std::string argument_;
    std::string reason_;
};

/// Reading or writing a file failed (missing file, malformed content, unsupported format).
class io_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

inline void append_one(std::string& s, std::string_view v) {
    s.append(v);
}
inline void append_one(std::string& s, const char* v) {
    s.append(v);
}
inline void append_one(std::string& s, const std::string& v) {
    s.append(v);
}
inline void append_one(std::string& s, char c) {
    s.push_back(c);
}

template <class N>
    requires(std::is_arithmetic_v<N> && !std::same_as<N, char> && !std::same_as<N, bool>)
void append_one(std::string& s, N v) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    s.append(buf, res.ptr);
}

inline void append_one(std::string& s, bool v) {
    s.append(v ? "true" : "false");
}

/// Concatenates strings and numbers (numbers in shortest round-trip form).
template <class... Parts>
[[nodiscard]] std::string concat(const Parts&... parts) {
    std::string s;
    (append_one(s, parts), ...);
    return s;
}

/// Throws `detseg::invalid_argument` for `function`'s `argument` with a message built from parts.
template <class... Parts>
[[noreturn]] void throw_invalid(std::string_view function, std::string_view argument,
                                const Parts&... parts) {
    throw invalid_argument(function, argument, concat(parts...));
}

} // namespace detail

} // namespace detseg

/// Checks a precondition; on failure throws `detseg::invalid_argument` naming `fn` and `arg`,
/// with the remaining arguments concatenated as the message.
#define DETSEG_REQUIRE(cond, fn, arg, ...)                                                         \
    do {                                                                                           \
        if (!(cond)) [[unlikely]]                                                                  \
            ::detseg::detail::throw_invalid((fn), (arg), __VA_ARGS__);                             \
    } while (false)

#endif // DETSEG_CORE_ERROR_HPP
