#include "proto/json.hpp"

#include "base/time_format.hpp"

#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace bgcopy::proto {
namespace {

// Requests reject unknown keys; responses ignore them (see json.hpp).
enum class Keys : std::uint8_t { Strict, Lenient };

// A body nested deeper than any API object is an attack or a bug, and some nlohmann
// operations (dump, copy) recurse, so such documents are refused before they are built.
constexpr int kMaxDepth = 32;

std::string label(const std::string& path) {
  return path.empty() ? "the body" : path;
}
std::string member(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string element(const std::string& path, std::size_t i) {
  return label(path) + "[" + std::to_string(i) + "]";
}

Error invalid(const std::string& path, std::string_view what) {
  return Error::make(hr::EInvalidArg, label(path) + ": " + std::string(what));
}

Json nullable_time(const std::optional<SystemTime>& t) {
  return t ? Json(format_rfc3339(*t)) : Json(nullptr);
}
template <class T>
Json nullable(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

// --- Value converters: (json, path, out) -> Status --------------------------------------

Status as_string(const Json& v, const std::string& path, std::size_t max_bytes, std::string& out,
                 Hresult too_long = hr::BgEStringTooLong) {
  if (!v.is_string()) {
    return invalid(path, "expected a string");
  }
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    return Error::make(too_long,
                       label(path) + ": longer than " + std::to_string(max_bytes) + " bytes");
  }
  out = s;
  return {};
}

Status as_u64(const Json& v, const std::string& path, std::uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<std::uint64_t>();
    return {};
  }
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (n >= 0) {
      out = static_cast<std::uint64_t>(n);
      return {};
    }
    return invalid(path, "must not be negative");
  }
  return invalid(path, "expected a non-negative integer");
}

Status as_u32(const Json& v, const std::string& path, std::uint32_t& out) {
  std::uint64_t n = 0;
  BGCOPY_TRY(as_u64(v, path, n));
  if (n > std::numeric_limits<std::uint32_t>::max()) {
    return invalid(path, "out of range (at most 4294967295)");
  }
  out = static_cast<std::uint32_t>(n);
  return {};
}

Status as_int(const Json& v, const std::string& path, int& out) {
  std::uint64_t n = 0;
  BGCOPY_TRY(as_u64(v, path, n));
  if (n > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
    return invalid(path, "out of range");
  }
  out = static_cast<int>(n);
  return {};
}

Status as_bool(const Json& v, const std::string& path, bool& out) {
  if (!v.is_boolean()) {
    return invalid(path, "expected true or false");
  }
  out = v.get<bool>();
  return {};
}

template <class E>
Status as_enum(const Json& v, const std::string& path, bool (*parse)(std::string_view, E&),
               std::string_view what, E& out) {
  if (!v.is_string()) {
    return invalid(path, "expected " + std::string(what) + " name (a string)");
  }
  const auto& s = v.get_ref<const std::string&>();
  if (!parse(s, out)) {
    // Bounded echo: the message must stay small even for a huge bad value.
    std::string shown = s.size() > 40 ? s.substr(0, 40) + "..." : s;
    return invalid(path, "unknown " + std::string(what) + " \"" + shown + "\"");
  }
  return {};
}

Status as_time(const Json& v, const std::string& path, SystemTime& out) {
  if (!v.is_string()) {
    return invalid(path, "expected an RFC 3339 UTC time string");
  }
  auto t = parse_rfc3339(v.get_ref<const std::string&>());
  if (!t) {
    return invalid(path, "not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)");
  }
  out = *t;
  return {};
}

// --- Object reading ---------------------------------------------------------------------

class ObjectReader {
 public:
  ObjectReader(const Json& j, const std::string& path) : j_(j), path_(path) {}

  Status begin(Keys keys, std::initializer_list<std::string_view> allowed) const {
    if (!j_.is_object()) {
      return invalid(path_, "expected a JSON object");
    }
    if (keys == Keys::Strict) {
      for (const auto& [k, v] : j_.items()) {
        bool known = false;
        for (auto a : allowed) known = known || a == k;
        if (!known) {
          std::string shown = k.size() > 40 ? k.substr(0, 40) + "..." : k;
          return invalid(path_, "unknown key \"" + shown + "\"");
        }
      }
    }
    return {};
  }

  const Json* find(std::string_view key) const {
    auto it = j_.find(std::string(key));
    return it == j_.end() ? nullptr : &*it;
  }
  std::string path(std::string_view key) const { return member(path_, key); }

  /// Present and not null, else an error.
  template <class F>
  Status required(std::string_view key, F&& conv) const {
    const Json* v = find(key);
    if (v == nullptr) {
      return invalid(path(key), "missing");
    }
    if (v->is_null()) {
      return invalid(path(key), "must not be null");
    }
    return conv(*v, path(key));
  }
  /// Absent: nothing happens. Null: an error.
  template <class F>
  Status optional(std::string_view key, F&& conv) const {
    const Json* v = find(key);
    if (v == nullptr) {
      return {};
    }
    if (v->is_null()) {
      return invalid(path(key), "must not be null");
    }
    return conv(*v, path(key));
  }
  /// Absent: `out` is left alone. Null: an error. Else `out` holds the value.
  template <class T, class F>
  Status optional_into(std::string_view key, std::optional<T>& out, F&& conv) const {
    const Json* v = find(key);
    if (v == nullptr) {
      return {};
    }
    if (v->is_null()) {
      return invalid(path(key), "must not be null");
    }
    T value{};
    if (auto st = conv(*v, path(key), value); !st) {
      return st;
    }
    out = std::move(value);
    return {};
  }
  /// Absent or null: `out` becomes nullopt.
  template <class T, class F>
  Status nullable(std::string_view key, std::optional<T>& out, F&& conv) const {
    const Json* v = find(key);
    if (v == nullptr || v->is_null()) {
      out.reset();
      return {};
    }
    T value{};
    if (auto st = conv(*v, path(key), value); !st) {
      return st;
    }
    out = std::move(value);
    return {};
  }

 private:
  const Json& j_;
  const std::string& path_;
};

// Converter adaptors so reader calls stay one line each.
auto str(std::string& out, std::size_t max, Hresult too_long = hr::BgEStringTooLong) {
  return [&out, max, too_long](const Json& v, const std::string& p) {
    return as_string(v, p, max, out, too_long);
  };
}
auto u32(std::uint32_t& out) {
  return [&out](const Json& v, const std::string& p) { return as_u32(v, p, out); };
}
auto u64(std::uint64_t& out) {
  return [&out](const Json& v, const std::string& p) { return as_u64(v, p, out); };
}
auto boolean(bool& out) {
  return [&out](const Json& v, const std::string& p) { return as_bool(v, p, out); };
}
auto time_of(SystemTime& out) {
  return [&out](const Json& v, const std::string& p) { return as_time(v, p, out); };
}
template <class E>
auto enumeration(E& out, bool (*parse)(std::string_view, E&), std::string_view what) {
  return [&out, parse, what](const Json& v, const std::string& p) {
    return as_enum(v, p, parse, what, out);
  };
}
// For nullable(): converters that write into a fresh value.
Status conv_u32(const Json& v, const std::string& p, std::uint32_t& out) {
  return as_u32(v, p, out);
}
Status conv_time(const Json& v, const std::string& p, SystemTime& out) {
  return as_time(v, p, out);
}
Status conv_u64(const Json& v, const std::string& p, std::uint64_t& out) {
  return as_u64(v, p, out);
}
Status conv_bool(const Json& v, const std::string& p, bool& out) {
  return as_bool(v, p, out);
}
Status conv_priority(const Json& v, const std::string& p, JobPriority& out) {
  return as_enum(v, p, &parse_priority, "priority", out);
}
auto conv_str(std::size_t max, Hresult too_long = hr::BgEStringTooLong) {
  return [max, too_long](const Json& v, const std::string& p, std::string& out) {
    return as_string(v, p, max, out, too_long);
  };
}

template <class T, class F>
Status as_array(const Json& v, const std::string& path, std::vector<T>& out, F&& each,
                std::size_t max_items = std::numeric_limits<std::size_t>::max()) {
  if (!v.is_array()) {
    return invalid(path, "expected an array");
  }
  if (v.size() > max_items) {
    return invalid(path, "more than " + std::to_string(max_items) + " elements");
  }
  out.clear();
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    T item{};
    BGCOPY_TRY(each(v[i], element(path, i), item));
    out.push_back(std::move(item));
  }
  return {};
}

// --- Decoders with a path and a key mode ------------------------------------------------

Status decode(const Json& j, const std::string& path, FileRange& out, Keys keys) {
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(keys, {"offset", "length"}));
  BGCOPY_TRY(r.required("offset", u64(out.offset)));
  // Absent or null length: to the end of the remote file.
  std::optional<std::uint64_t> length;
  BGCOPY_TRY(r.nullable("length", length, conv_u64));
  out.length = length.value_or(kLengthToEof);
  return {};
}

Status decode_ranges(const Json& v, const std::string& path, std::vector<FileRange>& out,
                     Keys keys) {
  return as_array(v, path, out, [keys](const Json& e, const std::string& p, FileRange& o) {
    return decode(e, p, o, keys);
  });
}

Status decode(const Json& j, const std::string& path, FileSpec& out, Keys keys) {
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(keys, {"remote_url", "local_path", "ranges", "sha256"}));
  BGCOPY_TRY(r.required("remote_url", str(out.remote_url, kMaxRemoteUrlBytes)));
  BGCOPY_TRY(r.required("local_path", str(out.local_path, kMaxLocalPathBytes)));
  out.ranges.clear();
  if (const Json* v = r.find("ranges"); v != nullptr && !v->is_null()) {
    BGCOPY_TRY(decode_ranges(*v, r.path("ranges"), out.ranges, keys));
  }
  BGCOPY_TRY(r.nullable("sha256", out.sha256, conv_str(kMaxSha256Bytes, hr::EInvalidArg)));
  return {};
}

/// A "files" array of FileSpec objects (POST /v1/jobs and POST /v1/jobs/{id}/files), strict.
auto file_specs(std::vector<FileSpec>& out) {
  return [&out](const Json& v, const std::string& p) {
    return as_array(v, p, out, [](const Json& e, const std::string& ep, FileSpec& o) {
      return decode(e, ep, o, Keys::Strict);
    });
  };
}

Status decode(const Json& j, const std::string& path, ProxySettings& out, Keys keys) {
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(keys, {"usage", "list", "bypass"}));
  BGCOPY_TRY(r.required("usage", enumeration(out.usage, &parse_proxy_usage, "proxy usage")));
  out.list.clear();
  out.bypass.clear();
  BGCOPY_TRY(r.optional("list", str(out.list, kMaxProxyListBytes)));
  BGCOPY_TRY(r.optional("bypass", str(out.bypass, kMaxProxyListBytes)));
  return {};
}

Status decode(const Json& j, const std::string& path, ErrorInfo& out, Keys keys) {
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(keys, {"code", "hex", "name", "context", "message", "file", "file_index"}));
  BGCOPY_TRY(r.required("code", u32(out.code)));
  out.context = ErrorContext::None;
  BGCOPY_TRY(r.optional("context", enumeration(out.context, &parse_context, "error context")));
  out.message.clear();
  BGCOPY_TRY(r.optional("message", str(out.message, kMaxBodyBytes)));
  BGCOPY_TRY(r.nullable("file_index", out.file_index, conv_u32));
  std::optional<std::string> file;
  BGCOPY_TRY(r.nullable("file", file, conv_str(kMaxLocalPathBytes)));
  out.file = file.value_or("");
  return {};
}

Status decode(const Json& j, const std::string& path, FileInfo& out, Keys keys) {
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(keys, {}));
  BGCOPY_TRY(r.required("index", u32(out.index)));
  BGCOPY_TRY(r.required("remote_url", str(out.remote_url, kMaxRemoteUrlBytes)));
  BGCOPY_TRY(r.required("local_path", str(out.local_path, kMaxLocalPathBytes)));
  out.ranges.clear();
  if (const Json* v = r.find("ranges"); v != nullptr && !v->is_null()) {
    BGCOPY_TRY(decode_ranges(*v, r.path("ranges"), out.ranges, keys));
  }
  BGCOPY_TRY(r.nullable("sha256", out.sha256, conv_str(kMaxSha256Bytes, hr::EInvalidArg)));
  BGCOPY_TRY(r.nullable("bytes_total", out.bytes_total, conv_u64));
  BGCOPY_TRY(r.optional("bytes_transferred", u64(out.bytes_transferred)));
  BGCOPY_TRY(r.optional("transferred", boolean(out.transferred)));
  BGCOPY_TRY(r.optional("completed", boolean(out.completed)));
  BGCOPY_TRY(r.optional("verified", boolean(out.verified)));
  BGCOPY_TRY(r.optional("restarts", u32(out.restarts)));
  return {};
}

auto string_list(std::size_t max_items, std::size_t max_bytes) {
  return
      [max_items, max_bytes](const Json& v, const std::string& p, std::vector<std::string>& out) {
        return as_array(
            v, p, out,
            [max_bytes](const Json& e, const std::string& ep, std::string& o) {
              return as_string(e, ep, max_bytes, o);
            },
            max_items);
      };
}

Status decode(const Json& j, const std::string& path, JobInfo& out, Keys keys) {
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(keys, {}));
  BGCOPY_TRY(r.required("id", str(out.id, 64)));
  BGCOPY_TRY(r.optional("display_name", str(out.display_name, kMaxDisplayNameBytes)));
  BGCOPY_TRY(r.optional("description", str(out.description, kMaxDescriptionBytes)));
  BGCOPY_TRY(r.required("type", enumeration(out.type, &parse_type, "job type")));
  BGCOPY_TRY(r.required("state", enumeration(out.state, &parse_state, "job state")));
  BGCOPY_TRY(r.optional("priority", enumeration(out.priority, &parse_priority, "priority")));
  BGCOPY_TRY(r.optional("owner", u32(out.owner)));
  BGCOPY_TRY(r.optional("owner_name", str(out.owner_name, 256)));
  BGCOPY_TRY(r.nullable("bytes_total", out.bytes_total, conv_u64));
  BGCOPY_TRY(r.optional("bytes_transferred", u64(out.bytes_transferred)));
  BGCOPY_TRY(r.optional("files_total", u32(out.files_total)));
  BGCOPY_TRY(r.optional("files_transferred", u32(out.files_transferred)));
  BGCOPY_TRY(r.optional("error_count", u32(out.error_count)));
  BGCOPY_TRY(r.nullable(
      "error", out.error,
      [keys](const Json& v, const std::string& p, ErrorInfo& o) { return decode(v, p, o, keys); }));
  BGCOPY_TRY(r.optional("created", time_of(out.created)));
  BGCOPY_TRY(r.optional("modified", time_of(out.modified)));
  BGCOPY_TRY(r.nullable("transfer_completed", out.transfer_completed, conv_time));
  BGCOPY_TRY(r.nullable("retry_at", out.retry_at, conv_time));
  BGCOPY_TRY(r.optional("wait_reason", str(out.wait_reason, 1024)));
  BGCOPY_TRY(r.optional("notify_flags", u32(out.notify_flags)));
  if (const Json* v = r.find("notify_cmdline"); v != nullptr && !v->is_null()) {
    BGCOPY_TRY(string_list(kMaxNotifyArgs, kMaxNotifyArgBytes)(*v, r.path("notify_cmdline"),
                                                               out.notify_cmdline));
  }
  BGCOPY_TRY(r.optional("min_retry_delay", u32(out.min_retry_delay)));
  BGCOPY_TRY(r.optional("no_progress_timeout", u32(out.no_progress_timeout)));
  BGCOPY_TRY(r.optional("max_download_time", u32(out.max_download_time)));
  if (const Json* v = r.find("proxy"); v != nullptr && !v->is_null()) {
    BGCOPY_TRY(decode(*v, r.path("proxy"), out.proxy, keys));
  }
  BGCOPY_TRY(r.optional("tls_verify", boolean(out.tls_verify)));
  out.files.clear();
  if (const Json* v = r.find("files"); v != nullptr && !v->is_null()) {
    BGCOPY_TRY(as_array(*v, r.path("files"), out.files,
                        [keys](const Json& e, const std::string& p, FileInfo& o) {
                          return decode(e, p, o, keys);
                        }));
  }
  return {};
}

Status decode(const Json& j, const std::string& path, JobSettingsPatch& out, Keys keys) {
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(keys, {"display_name", "description", "priority", "notify_flags",
                            "notify_cmdline", "min_retry_delay", "no_progress_timeout",
                            "max_download_time", "proxy", "tls_verify"}));
  out = JobSettingsPatch{};
  BGCOPY_TRY(r.optional_into("display_name", out.display_name, conv_str(kMaxDisplayNameBytes)));
  BGCOPY_TRY(r.optional_into("description", out.description, conv_str(kMaxDescriptionBytes)));
  BGCOPY_TRY(r.optional_into("priority", out.priority, conv_priority));
  BGCOPY_TRY(r.optional_into("notify_flags", out.notify_flags, conv_u32));
  BGCOPY_TRY(r.optional_into("notify_cmdline", out.notify_cmdline,
                             string_list(kMaxNotifyArgs, kMaxNotifyArgBytes)));
  BGCOPY_TRY(r.optional_into("min_retry_delay", out.min_retry_delay, conv_u32));
  BGCOPY_TRY(r.optional_into("no_progress_timeout", out.no_progress_timeout, conv_u32));
  BGCOPY_TRY(r.optional_into("max_download_time", out.max_download_time, conv_u32));
  BGCOPY_TRY(r.optional_into("proxy", out.proxy,
                             [keys](const Json& v, const std::string& p, ProxySettings& o) {
                               return decode(v, p, o, keys);
                             }));
  BGCOPY_TRY(r.optional_into("tls_verify", out.tls_verify, conv_bool));
  return {};
}

Status decode(const Json& j, const std::string& path, JobEvent& out, Keys keys) {
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(keys, {"seq", "type", "job", "state", "file_index", "time"}));
  BGCOPY_TRY(r.required("seq", u64(out.seq)));
  BGCOPY_TRY(r.required("type", enumeration(out.type, &parse_event_type, "event type")));
  BGCOPY_TRY(r.required("job", str(out.job_id, 64)));
  BGCOPY_TRY(r.required("state", enumeration(out.state, &parse_state, "job state")));
  BGCOPY_TRY(r.nullable("file_index", out.file_index, conv_u32));
  BGCOPY_TRY(r.required("time", time_of(out.time)));
  return {};
}

// A nesting-depth pre-scan over the raw text (strings skipped). Linear and allocation-free.
bool too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        return true;
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace

// --- Text ----------------------------------------------------------------------------------

Result<Json> parse_json(std::string_view text) {
  if (too_deep(text)) {
    return Error::make(hr::EInvalidArg,
                       "malformed JSON: nested deeper than " + std::to_string(kMaxDepth));
  }
  // nlohmann reports syntax errors only by exception; it is caught here so none leaves the
  // module.
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    return Error::make(hr::EInvalidArg, std::string("malformed JSON: ") + e.what());
  }
}

namespace {

/// nlohmann SAX handler that keeps one string member of the top-level object and skips the
/// rest. Every callback returns true (go on) except parse_error.
class TopLevelString {
 public:
  explicit TopLevelString(std::string_view key) : key_(key) {}

  bool null() { return value(); }
  bool boolean(bool /*v*/) { return value(); }
  bool number_integer(Json::number_integer_t /*v*/) { return value(); }
  bool number_unsigned(Json::number_unsigned_t /*v*/) { return value(); }
  bool number_float(Json::number_float_t /*v*/, const Json::string_t& /*s*/) { return value(); }
  bool binary(Json::binary_t& /*v*/) { return value(); }
  bool string(Json::string_t& v) {
    if (depth_ == 1 && at_key_) {
      found_ = std::move(v);
    }
    return value();
  }
  bool start_object(std::size_t /*n*/) {
    top_is_object_ = top_is_object_ || depth_ == 0;
    ++depth_;
    at_key_ = false;
    return true;
  }
  bool key(Json::string_t& k) {
    at_key_ = depth_ == 1 && k == key_;
    return true;
  }
  bool end_object() { return end(); }
  bool start_array(std::size_t /*n*/) {
    ++depth_;
    at_key_ = false;
    return true;
  }
  bool end_array() { return end(); }
  bool parse_error(std::size_t /*pos*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& e) {
    error_ = e.what();
    return false;
  }

  [[nodiscard]] bool top_is_object() const { return top_is_object_; }
  std::optional<std::string>& found() { return found_; }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  bool value() {
    at_key_ = false;
    return true;
  }
  bool end() {
    --depth_;
    at_key_ = false;
    return true;
  }

  std::string_view key_;
  int depth_ = 0;
  bool at_key_ = false;
  bool top_is_object_ = false;
  std::optional<std::string> found_;
  std::string error_;
};

}  // namespace

Result<std::string> top_level_string(std::string_view text, std::string_view key) {
  if (too_deep(text)) {
    return Error::make(hr::EInvalidArg,
                       "malformed JSON: nested deeper than " + std::to_string(kMaxDepth));
  }
  TopLevelString handler(key);
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &handler);
  } catch (const Json::exception& e) {
    return Error::make(hr::EInvalidArg, std::string("malformed JSON: ") + e.what());
  }
  if (!ok) {
    return Error::make(hr::EInvalidArg, "malformed JSON: " + handler.error());
  }
  if (!handler.top_is_object() || !handler.found()) {
    return Error::make(hr::EInvalidArg,
                       "malformed JSON: no string member \"" + std::string(key) + "\"");
  }
  return std::move(*handler.found());
}

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// --- Encoding ------------------------------------------------------------------------------

Json to_json(const FileRange& v) {
  Json j;
  j["offset"] = v.offset;
  j["length"] = v.length == kLengthToEof ? Json(nullptr) : Json(v.length);
  return j;
}

namespace {
Json ranges_json(const std::vector<FileRange>& ranges) {
  Json a = Json::array();
  for (const auto& r : ranges) a.push_back(to_json(r));
  return a;
}
Json strings_json(const std::vector<std::string>& list) {
  Json a = Json::array();
  for (const auto& s : list) a.push_back(s);
  return a;
}
}  // namespace

Json to_json(const FileSpec& v) {
  Json j;
  j["remote_url"] = v.remote_url;
  j["local_path"] = v.local_path;
  j["ranges"] = ranges_json(v.ranges);
  j["sha256"] = nullable(v.sha256);
  return j;
}

Json to_json(const ProxySettings& v) {
  Json j;
  j["usage"] = proxy_usage_name(v.usage);
  j["list"] = v.list;
  j["bypass"] = v.bypass;
  return j;
}

Json to_json(const ErrorInfo& v) {
  Json j;
  j["code"] = v.code;
  j["hex"] = hresult_hex(v.code);
  j["name"] = hresult_name(v.code);
  j["context"] = context_name(v.context);
  j["message"] = v.message;
  j["file"] = v.file.empty() ? Json(nullptr) : Json(v.file);
  j["file_index"] = nullable(v.file_index);
  return j;
}

Json to_json(const FileInfo& v) {
  Json j;
  j["index"] = v.index;
  j["remote_url"] = v.remote_url;
  j["local_path"] = v.local_path;
  j["ranges"] = ranges_json(v.ranges);
  j["sha256"] = nullable(v.sha256);
  j["bytes_total"] = nullable(v.bytes_total);
  j["bytes_transferred"] = v.bytes_transferred;
  j["transferred"] = v.transferred;
  j["completed"] = v.completed;
  j["verified"] = v.verified;
  j["restarts"] = v.restarts;
  return j;
}

Json to_json(const JobInfo& v) {
  Json j;
  j["id"] = v.id;
  j["display_name"] = v.display_name;
  j["description"] = v.description;
  j["type"] = type_name(v.type);
  j["state"] = state_name(v.state);
  j["priority"] = priority_name(v.priority);
  j["owner"] = v.owner;
  j["owner_name"] = v.owner_name;
  j["bytes_total"] = nullable(v.bytes_total);
  j["bytes_transferred"] = v.bytes_transferred;
  j["files_total"] = v.files_total;
  j["files_transferred"] = v.files_transferred;
  j["error_count"] = v.error_count;
  j["error"] = v.error ? to_json(*v.error) : Json(nullptr);
  j["created"] = format_rfc3339(v.created);
  j["modified"] = format_rfc3339(v.modified);
  j["transfer_completed"] = nullable_time(v.transfer_completed);
  j["retry_at"] = nullable_time(v.retry_at);
  j["wait_reason"] = v.wait_reason;
  j["notify_flags"] = v.notify_flags;
  j["notify_cmdline"] = strings_json(v.notify_cmdline);
  j["min_retry_delay"] = v.min_retry_delay;
  j["no_progress_timeout"] = v.no_progress_timeout;
  j["max_download_time"] = v.max_download_time;
  j["proxy"] = to_json(v.proxy);
  j["tls_verify"] = v.tls_verify;
  Json files = Json::array();
  for (const auto& f : v.files) files.push_back(to_json(f));
  j["files"] = std::move(files);
  return j;
}

Json to_json(const JobSettingsPatch& v) {
  Json j = Json::object();
  if (v.display_name) j["display_name"] = *v.display_name;
  if (v.description) j["description"] = *v.description;
  if (v.priority) j["priority"] = priority_name(*v.priority);
  if (v.notify_flags) j["notify_flags"] = *v.notify_flags;
  if (v.notify_cmdline) j["notify_cmdline"] = strings_json(*v.notify_cmdline);
  if (v.min_retry_delay) j["min_retry_delay"] = *v.min_retry_delay;
  if (v.no_progress_timeout) j["no_progress_timeout"] = *v.no_progress_timeout;
  if (v.max_download_time) j["max_download_time"] = *v.max_download_time;
  if (v.proxy) j["proxy"] = to_json(*v.proxy);
  if (v.tls_verify) j["tls_verify"] = *v.tls_verify;
  return j;
}

Json to_json(const JobEvent& v) {
  Json j;
  j["seq"] = v.seq;
  j["type"] = event_type_name(v.type);
  j["job"] = v.job_id;
  j["state"] = state_name(v.state);
  j["file_index"] = nullable(v.file_index);
  j["time"] = format_rfc3339(v.time);
  return j;
}

namespace {
Json files_json(const std::vector<FileSpec>& files) {
  Json out = Json::array();
  for (const auto& f : files) out.push_back(to_json(f));
  return out;
}
}  // namespace

Json to_json(const CreateJobRequest& v) {
  Json j;
  j["display_name"] = v.display_name;
  j["type"] = type_name(v.type);
  if (v.priority) j["priority"] = priority_name(*v.priority);
  if (!v.files.empty()) j["files"] = files_json(v.files);
  if (v.resume) j["resume"] = true;
  return j;
}

Json to_json(const AddFilesRequest& v) {
  Json j;
  j["files"] = files_json(v.files);
  return j;
}

Json to_json(const Health& v) {
  Json j;
  j["status"] = v.status;
  j["version"] = v.version;
  j["api"] = v.api;
  j["uid"] = v.uid;
  j["mode"] = v.mode;
  return j;
}

Json to_json(const CallResult& v) {
  Json j;
  j["code"] = v.code;
  j["hex"] = hresult_hex(v.code);
  j["name"] = hresult_name(v.code);
  j["message"] = v.message.empty() ? hresult_message(v.code) : v.message;
  return j;
}

Json to_json(const ActionResponse& v) {
  Json j;
  j["result"] = to_json(v.result);
  if (v.job) j["job"] = to_json(*v.job);
  return j;
}

Json to_json(const JobList& v) {
  Json a = Json::array();
  for (const auto& job : v.jobs) a.push_back(to_json(job));
  Json j;
  j["jobs"] = std::move(a);
  return j;
}

Json to_json(const FileList& v) {
  Json a = Json::array();
  for (const auto& f : v.files) a.push_back(to_json(f));
  Json j;
  j["files"] = std::move(a);
  return j;
}

Json error_body(const Error& e) {
  Json j;
  j["code"] = e.code;
  j["hex"] = hresult_hex(e.code);
  j["name"] = hresult_name(e.code);
  j["message"] = e.message.empty() ? hresult_message(e.code) : e.message;
  j["context"] = context_name(e.context);
  j["file_index"] = nullable(e.file_index);
  return j;
}

Json error_body(Hresult code, std::string_view message, ErrorContext context) {
  return error_body(Error::make(code, std::string(message), context));
}

// --- Decoding ------------------------------------------------------------------------------

Status from_json(const Json& j, FileRange& out) {
  return decode(j, "", out, Keys::Strict);
}
Status from_json(const Json& j, FileSpec& out) {
  return decode(j, "", out, Keys::Strict);
}
Status from_json(const Json& j, ProxySettings& out) {
  return decode(j, "", out, Keys::Strict);
}
Status from_json(const Json& j, ErrorInfo& out) {
  return decode(j, "", out, Keys::Lenient);
}
Status from_json(const Json& j, FileInfo& out) {
  return decode(j, "", out, Keys::Lenient);
}
Status from_json(const Json& j, JobInfo& out) {
  return decode(j, "", out, Keys::Lenient);
}
Status from_json(const Json& j, JobSettingsPatch& out) {
  return decode(j, "", out, Keys::Strict);
}
Status from_json(const Json& j, JobEvent& out) {
  return decode(j, "", out, Keys::Lenient);
}

Status from_json(const Json& j, CreateJobRequest& out) {
  const std::string path;
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(Keys::Strict, {"display_name", "type", "priority", "files", "resume"}));
  out = CreateJobRequest{};
  BGCOPY_TRY(r.optional("display_name", str(out.display_name, kMaxDisplayNameBytes)));
  BGCOPY_TRY(r.optional("type", enumeration(out.type, &parse_type, "job type")));
  BGCOPY_TRY(r.optional_into("priority", out.priority, conv_priority));
  BGCOPY_TRY(r.optional("files", file_specs(out.files)));
  BGCOPY_TRY(r.optional("resume", boolean(out.resume)));
  if (out.resume && out.files.empty()) {
    return Error::make(hr::EInvalidArg, "\"resume\": true needs \"files\" in the same request");
  }
  return {};
}

Status from_json(const Json& j, AddFilesRequest& out) {
  const std::string path;
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(Keys::Strict, {"files"}));
  return r.required("files", file_specs(out.files));
}

Status from_json(const Json& j, Health& out) {
  const std::string path;
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(Keys::Lenient, {}));
  BGCOPY_TRY(r.required("status", str(out.status, 64)));
  BGCOPY_TRY(r.optional("version", str(out.version, 64)));
  BGCOPY_TRY(r.required("api", [&out](const Json& v, const std::string& p) -> Status {
    return as_int(v, p, out.api);
  }));
  BGCOPY_TRY(r.optional("uid", u32(out.uid)));
  BGCOPY_TRY(r.optional("mode", str(out.mode, 64)));
  return {};
}

Status from_json(const Json& j, CallResult& out) {
  const std::string path;
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(Keys::Lenient, {}));
  BGCOPY_TRY(r.required("code", u32(out.code)));
  out.message.clear();
  BGCOPY_TRY(r.optional("message", str(out.message, kMaxBodyBytes)));
  return {};
}

Status from_json(const Json& j, ActionResponse& out) {
  const std::string path;
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(Keys::Lenient, {}));
  BGCOPY_TRY(r.required(
      "result", [&](const Json& v, const std::string&) { return from_json(v, out.result); }));
  return r.nullable("job", out.job, [](const Json& v, const std::string& p, JobInfo& o) {
    return decode(v, p, o, Keys::Lenient);
  });
}

Status from_json(const Json& j, JobList& out) {
  const std::string path;
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(Keys::Lenient, {}));
  return r.required("jobs", [&](const Json& v, const std::string& p) {
    return as_array(v, p, out.jobs, [](const Json& e, const std::string& ep, JobInfo& o) {
      return decode(e, ep, o, Keys::Lenient);
    });
  });
}

Status from_json(const Json& j, FileList& out) {
  const std::string path;
  ObjectReader r(j, path);
  BGCOPY_TRY(r.begin(Keys::Lenient, {}));
  return r.required("files", [&](const Json& v, const std::string& p) {
    return as_array(v, p, out.files, [](const Json& e, const std::string& ep, FileInfo& o) {
      return decode(e, ep, o, Keys::Lenient);
    });
  });
}

}  // namespace bgcopy::proto
