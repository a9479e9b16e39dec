// The bgcopy client library: everything an application needs, in one include.
//
//   auto manager = bgcopy::Manager::connect();
//   if (!manager) { report(manager.status()); }
//   auto job = manager->create_job("nightly");
//   job->add_file("https://example.org/a.iso", "/srv/a.iso");
//   job->resume();
//   if (auto state = job->wait(); state && *state == bgcopy::JobState::Transferred) {
//     job->complete();
//   }
//
// No call throws. Each returns a bgcopy::Status or bgcopy::Result<T> whose code() is one of
// the HRESULT-style codes of <bgcopy/codes.hpp>; the codes a call can return are listed on its
// declaration.
#pragma once

#include <bgcopy/codes.hpp>
#include <bgcopy/export.hpp>
#include <bgcopy/job.hpp>
#include <bgcopy/json.hpp>
#include <bgcopy/manager.hpp>
#include <bgcopy/result.hpp>
#include <bgcopy/subscription.hpp>
#include <bgcopy/types.hpp>
#include <bgcopy/version.hpp>
