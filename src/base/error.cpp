#include "base/error.hpp"

#include <cstring>

namespace bgcopy {

Error Error::from_errno(int err, std::string what) {
  return Error{hresult_from_errno(err), ErrorContext::LocalFile,
               std::move(what) + ": " + std::strerror(err), std::nullopt};
}

}  // namespace bgcopy
