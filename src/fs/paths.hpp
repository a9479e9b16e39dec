// Lexical helpers for destination paths. No I/O: these only split and check strings.
#pragma once

#include "base/error.hpp"
#include "engine/types.hpp"

#include <string>
#include <string_view>

namespace bgcopy::fs {

/// Directory part of an absolute path: "/a/b/c" -> "/a/b", "/c" -> "/".
std::string staging_dir(const std::string& local_path);

/// Last component: "/a/b/c" -> "c". Empty when the path ends with '/'.
std::string base_name(const std::string& local_path);

/// "<dir>/<staging_name>", for messages only (never opened by this name).
std::string staging_path(const engine::FileRecord& file);

/// Absolute, no empty/"."/".." segment, no trailing slash, no NUL, basename 1..255 bytes,
/// whole path shorter than PATH_MAX. Errors: E_INVALIDARG (context LOCAL_FILE).
Status check_path_syntax(std::string_view local_path);

/// A staging name must be a single, hidden-or-not, plain component. Errors: E_INVALIDARG.
Status check_staging_name(std::string_view name);

/// True when the path is /proc, /sys or /dev or below them (lexically).
bool is_pseudo_fs_path(std::string_view local_path);

}  // namespace bgcopy::fs
