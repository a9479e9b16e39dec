#include "cli/resolve.hpp"

namespace bgcopy::cli {

std::optional<std::string> canonical_guid(std::string_view text) {
  if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, 36);
  }
  if (text.size() != 36) {
    return std::nullopt;
  }
  std::string out = "{";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') {
        return std::nullopt;
      }
      out.push_back('-');
    } else if (c >= '0' && c <= '9') {
      out.push_back(c);
    } else if (c >= 'a' && c <= 'f') {
      out.push_back(static_cast<char>(c - 'a' + 'A'));
    } else if (c >= 'A' && c <= 'F') {
      out.push_back(c);
    } else {
      return std::nullopt;
    }
  }
  out.push_back('}');
  return out;
}

Result<std::string> resolve_by_name(std::string_view name, const std::vector<JobInfo>& jobs) {
  std::vector<const JobInfo*> matches;
  for (const auto& job : jobs) {
    if (job.display_name == name) {
      matches.push_back(&job);
    }
  }
  if (matches.size() == 1) {
    return matches.front()->id;
  }
  const std::string shown = "'" + std::string(name.substr(0, 120)) + "'";
  if (matches.empty()) {
    return Status(hr::DoEJobNotFound, "no job with the id or name " + shown);
  }
  std::string ids;
  for (const auto* job : matches) {
    ids += ids.empty() ? "" : ", ";
    ids += job->id;
  }
  return Status(hr::EInvalidArg, "the name " + shown +
                                     " is ambiguous: " + std::to_string(matches.size()) +
                                     " jobs have it (" + ids + "); give the id instead");
}

}  // namespace bgcopy::cli
