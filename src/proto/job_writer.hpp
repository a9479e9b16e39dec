// A direct writer for the one large response, the job list. It emits exactly the bytes of
// dump(to_json(JobInfo)) (tests/unit/proto/job_writer_test.cpp holds it to that) without
// building a JSON tree: with 100,000 jobs the tree's allocations were most of `list`'s time.
#pragma once

#include <bgcopy/types.hpp>

#include <string>

namespace bgcopy::proto {

/// Appends the JSON object of one job to out; byte for byte dump(to_json(job)).
void append_json(std::string& out, const JobInfo& job);

}  // namespace bgcopy::proto
