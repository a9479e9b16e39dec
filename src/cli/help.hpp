// The manual of the command line: `bgcopy --help` and `bgcopy VERB --help`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::cli {

/// The man-page style help of a verb (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS,
/// EXAMPLES); the overview for an empty verb; "" for an unknown verb.
std::string help_text(std::string_view verb);

/// Every verb, in the order the overview lists them.
const std::vector<std::string_view>& verbs();

}  // namespace bgcopy::cli
