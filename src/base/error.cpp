#include "base/error.hpp"

#include <cstring>

namespace bgcopy {

std::string_view error_context_name(ErrorContext ctx) {
  switch (ctx) {
    case ErrorContext::None:
      return "NONE";
    case ErrorContext::Unknown:
      return "UNKNOWN";
    case ErrorContext::GeneralQueueManager:
      return "GENERAL_QUEUE_MANAGER";
    case ErrorContext::QueueManagerNotification:
      return "QUEUE_MANAGER_NOTIFICATION";
    case ErrorContext::LocalFile:
      return "LOCAL_FILE";
    case ErrorContext::RemoteFile:
      return "REMOTE_FILE";
    case ErrorContext::GeneralTransport:
      return "GENERAL_TRANSPORT";
    case ErrorContext::RemoteApplication:
      return "REMOTE_APPLICATION";
    case ErrorContext::ServerCertificateCallback:
      return "SERVER_CERTIFICATE_CALLBACK";
  }
  return "UNKNOWN";
}

Error Error::from_errno(int err, std::string what) {
  return Error{hresult_from_errno(err), ErrorContext::LocalFile,
               std::move(what) + ": " + std::strerror(err), std::nullopt};
}

}  // namespace bgcopy
