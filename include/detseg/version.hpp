#ifndef DETSEG_VERSION_HPP
#define DETSEG_VERSION_HPP

/// @file
/// Library version, as macros (for the preprocessor) and as constants.

#define DETSEG_VERSION_MAJOR 0
#define DETSEG_VERSION_MINOR 1
#define DETSEG_VERSION_PATCH 0
#define DETSEG_VERSION_STRING "0.1.0"

namespace detseg {

inline constexpr int version_major = DETSEG_VERSION_MAJOR;
inline constexpr int version_minor = DETSEG_VERSION_MINOR;
inline constexpr int version_patch = DETSEG_VERSION_PATCH;

/// The version as "major.minor.patch".
[[nodiscard]] constexpr const char* version_string() noexcept {
    return DETSEG_VERSION_STRING;
}

} // namespace detseg

#endif // DETSEG_VERSION_HPP
