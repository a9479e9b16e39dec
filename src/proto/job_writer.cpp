#include "proto/job_writer.hpp"

#include "base/time_format.hpp"
#include "proto/json.hpp"

#include <charconv>
#include <string_view>

namespace bgcopy::proto {
namespace {

// Escapes as nlohmann's serializer does: the two-character escapes it uses, \u00xx (lower-case
// hex) for other control characters, everything else verbatim. Non-ASCII text goes through
// nlohmann itself, so invalid UTF-8 is replaced exactly as dump() replaces it.
void append_string(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) {
      out += dump(Json(std::string(s)));
      return;
    }
  }
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

template <class T>
void append_number(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

template <class T>
void append_nullable(std::string& out, const std::optional<T>& v) {
  if (v) {
    append_number(out, *v);
  } else {
    out += "null";
  }
}

void append_bool(std::string& out, bool v) {
  out += v ? "true" : "false";
}

void append_time(std::string& out, const std::optional<SystemTime>& t) {
  if (t) {
    append_string(out, format_rfc3339(*t));
  } else {
    out += "null";
  }
}

// `,"key":` (or `"key":` for the first member, whose caller writes the brace).
void key(std::string& out, std::string_view k, bool first = false) {
  if (!first) out += ',';
  out += '"';
  out += k;  // keys are ASCII identifiers: nothing to escape
  out += "\":";
}

void append_ranges(std::string& out, const std::vector<FileRange>& ranges) {
  out += '[';
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (i != 0) out += ',';
    key(out.append("{"), "offset", true);
    append_number(out, ranges[i].offset);
    key(out, "length");
    if (ranges[i].length == kLengthToEof) {
      out += "null";
    } else {
      append_number(out, ranges[i].length);
    }
    out += '}';
  }
  out += ']';
}

void append_error(std::string& out, const ErrorInfo& e) {
  key(out.append("{"), "code", true);
  append_number(out, e.code);
  key(out, "hex");
  append_string(out, hresult_hex(e.code));
  key(out, "name");
  append_string(out, hresult_name(e.code));
  key(out, "context");
  append_string(out, context_name(e.context));
  key(out, "message");
  append_string(out, e.message);
  key(out, "file");
  if (e.file.empty()) {
    out += "null";
  } else {
    append_string(out, e.file);
  }
  key(out, "file_index");
  append_nullable(out, e.file_index);
  out += '}';
}

void append_file(std::string& out, const FileInfo& f) {
  key(out.append("{"), "index", true);
  append_number(out, f.index);
  key(out, "remote_url");
  append_string(out, f.remote_url);
  key(out, "local_path");
  append_string(out, f.local_path);
  key(out, "ranges");
  append_ranges(out, f.ranges);
  key(out, "sha256");
  if (f.sha256) {
    append_string(out, *f.sha256);
  } else {
    out += "null";
  }
  key(out, "bytes_total");
  append_nullable(out, f.bytes_total);
  key(out, "bytes_transferred");
  append_number(out, f.bytes_transferred);
  key(out, "transferred");
  append_bool(out, f.transferred);
  key(out, "completed");
  append_bool(out, f.completed);
  key(out, "verified");
  append_bool(out, f.verified);
  key(out, "restarts");
  append_number(out, f.restarts);
  out += '}';
}

}  // namespace

void append_json(std::string& out, const JobInfo& v) {
  key(out.append("{"), "id", true);
  append_string(out, v.id);
  key(out, "display_name");
  append_string(out, v.display_name);
  key(out, "description");
  append_string(out, v.description);
  key(out, "type");
  append_string(out, type_name(v.type));
  key(out, "state");
  append_string(out, state_name(v.state));
  key(out, "priority");
  append_string(out, priority_name(v.priority));
  key(out, "owner");
  append_number(out, v.owner);
  key(out, "owner_name");
  append_string(out, v.owner_name);
  key(out, "bytes_total");
  append_nullable(out, v.bytes_total);
  key(out, "bytes_transferred");
  append_number(out, v.bytes_transferred);
  key(out, "files_total");
  append_number(out, v.files_total);
  key(out, "files_transferred");
  append_number(out, v.files_transferred);
  key(out, "error_count");
  append_number(out, v.error_count);
  key(out, "error");
  if (v.error) {
    append_error(out, *v.error);
  } else {
    out += "null";
  }
  key(out, "created");
  append_time(out, v.created);
  key(out, "modified");
  append_time(out, v.modified);
  key(out, "transfer_completed");
  append_time(out, v.transfer_completed);
  key(out, "retry_at");
  append_time(out, v.retry_at);
  key(out, "wait_reason");
  append_string(out, v.wait_reason);
  key(out, "notify_flags");
  append_number(out, v.notify_flags);
  key(out, "notify_cmdline");
  out += '[';
  for (std::size_t i = 0; i < v.notify_cmdline.size(); ++i) {
    if (i != 0) out += ',';
    append_string(out, v.notify_cmdline[i]);
  }
  out += ']';
  key(out, "min_retry_delay");
  append_number(out, v.min_retry_delay);
  key(out, "no_progress_timeout");
  append_number(out, v.no_progress_timeout);
  key(out, "max_download_time");
  append_number(out, v.max_download_time);
  key(out, "proxy");
  key(out.append("{"), "usage", true);
  append_string(out, proxy_usage_name(v.proxy.usage));
  key(out, "list");
  append_string(out, v.proxy.list);
  key(out, "bypass");
  append_string(out, v.proxy.bypass);
  out += '}';
  key(out, "tls_verify");
  append_bool(out, v.tls_verify);
  key(out, "files");
  out += '[';
  for (std::size_t i = 0; i < v.files.size(); ++i) {
    if (i != 0) out += ',';
    append_file(out, v.files[i]);
  }
  out += "]}";
}

}  // namespace bgcopy::proto
