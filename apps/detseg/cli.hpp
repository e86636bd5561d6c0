#ifndef DETSEG_APPS_CLI_HPP
#define DETSEG_APPS_CLI_HPP

// Shared pieces of the `detseg` command-line tool: the subcommand table, argument parsing
// helpers and the error types. Each subcommand lives in its own source file (eval_coco.cpp,
// later eval_seg.cpp, crf.cpp) and is listed in main.cpp.

#include <cstdio>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace detseg_cli {

/// A wrong command line: the message is printed with a hint to `--help`; exit status 2.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A leaf command, e.g. `eval coco`: `run(args)` gets the arguments after its name and returns
/// the exit status; `help()` is its `--help` text.
struct command {
    std::string_view group;   ///< "eval", or "" for a top-level command such as "crf"
    std::string_view name;    ///< "coco"
    std::string_view summary; ///< one line for the listing
    int (*run)(std::span<const std::string_view> args);
    const char* (*help)();
};

/// The commands: defined in main.cpp, one entry per subcommand source file.
std::span<const command> commands();

/// Reads options of the form `--name value` / `--name=value` and flags `--name`.
class arg_reader {
public:
    arg_reader(std::string_view command_name, std::span<const std::string_view> args)
        : name_(command_name), args_(args) {}

    /// True while arguments are left.
    [[nodiscard]] bool more() const { return pos_ < args_.size(); }

    /// The next argument's option name (without its `=value`), advancing past it.
    [[nodiscard]] std::string_view next() {
        std::string_view a = args_[pos_++];
        inline_value_.reset();
        if (a.starts_with("--")) {
            if (auto eq = a.find('='); eq != std::string_view::npos) {
                inline_value_ = std::string(a.substr(eq + 1));
                a = a.substr(0, eq);
            }
        }
        current_ = a;
        return a;
    }

    /// The value of the option just read by `next()`. @throws usage_error when there is none.
    [[nodiscard]] std::string value() {
        if (inline_value_)
            return *inline_value_;
        if (pos_ >= args_.size())
            throw usage_error(std::string(current_) + " needs a value");
        return std::string(args_[pos_++]);
    }

    /// A flag takes no value. @throws usage_error for `--flag=value`.
    void flag() const {
        if (inline_value_)
            throw usage_error(std::string(current_) + " takes no value");
    }

    /// A positive integer value. @throws usage_error otherwise.
    [[nodiscard]] int positive_int() {
        const std::string v = value();
        std::size_t used = 0;
        int n = 0;
        try {
            n = std::stoi(v, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != v.size() || v.empty() || n < 1)
            throw usage_error(std::string(current_) + " needs a positive integer, got '" + v + "'");
        return n;
    }

    [[nodiscard]] std::string_view command_name() const { return name_; }

private:
    std::string_view name_;
    std::span<const std::string_view> args_;
    std::size_t pos_ = 0;
    std::string_view current_;
    std::optional<std::string> inline_value_;
};

/// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
inline std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

/// A double that reads back to the same bits (`%.17g`).
inline std::string json_number(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

} // namespace detseg_cli

#endif // DETSEG_APPS_CLI_HPP
