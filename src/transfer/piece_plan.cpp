#include "transfer/piece_plan.hpp"

#include <string>

namespace bgcopy::transfer {

PiecePlan PiecePlan::whole_file(std::optional<std::uint64_t> remote_size) {
  PiecePlan p;
  p.whole_ = true;
  p.pieces_.push_back(Piece{0, remote_size, true});
  return p;
}

PiecePlan PiecePlan::from_ranges(const std::vector<engine::FileRange>& ranges) {
  PiecePlan p;
  p.whole_ = false;
  for (const auto& r : ranges) {
    if (r.length == engine::kLengthToEof) {
      p.pieces_.push_back(Piece{r.offset, std::nullopt, true});
    } else {
      p.pieces_.push_back(Piece{r.offset, r.length, false});
    }
  }
  return p;
}

std::optional<std::uint64_t> PiecePlan::total() const {
  std::uint64_t sum = 0;
  for (const auto& piece : pieces_) {
    if (!piece.length) {
      return std::nullopt;
    }
    sum += *piece.length;
  }
  return sum;
}

Status PiecePlan::apply_remote_size(std::uint64_t size) {
  if (whole_) {
    pieces_.front().length = size;
    return {};
  }
  for (auto& piece : pieces_) {
    const auto len = piece.to_eof ? std::uint64_t{0} : *piece.length;
    const bool beyond = piece.to_eof ? piece.offset >= size
                                     : (len != 0 && (len > size || piece.offset > size - len));
    if (beyond) {
      std::string what = "range " + std::to_string(piece.offset) + ":" +
                         (piece.to_eof ? std::string("eof") : std::to_string(len)) +
                         " lies beyond the end of the remote file (" + std::to_string(size) +
                         " bytes)";
      return Error::make(hr::DoEInvalidRange, std::move(what), ErrorContext::RemoteFile);
    }
  }
  for (auto& piece : pieces_) {
    if (piece.to_eof) {
      piece.length = size - piece.offset;
    }
  }
  return {};
}

void PiecePlan::forget_remote_size() {
  for (auto& piece : pieces_) {
    if (piece.to_eof) {
      piece.length.reset();
    }
  }
}

void PiecePlan::set_length(std::size_t i, std::uint64_t length) {
  pieces_[i].length = length;
}

std::optional<std::uint64_t> PiecePlan::remote_size_from_total(std::uint64_t bytes_total) const {
  if (whole_) {
    return bytes_total;
  }
  std::uint64_t fixed = 0;
  std::uint64_t open_offsets = 0;
  std::uint64_t open_count = 0;
  for (const auto& piece : pieces_) {
    if (piece.to_eof) {
      open_offsets += piece.offset;
      ++open_count;
    } else {
      fixed += *piece.length;
    }
  }
  if (open_count == 0 || bytes_total < fixed) {
    return std::nullopt;
  }
  const std::uint64_t numerator = bytes_total - fixed + open_offsets;
  if (numerator % open_count != 0) {
    return std::nullopt;
  }
  const std::uint64_t size = numerator / open_count;
  for (const auto& piece : pieces_) {
    if (piece.to_eof && piece.offset > size) {
      return std::nullopt;
    }
  }
  return size;
}

std::optional<PiecePlan::Position> PiecePlan::locate(std::uint64_t staging_offset) const {
  std::uint64_t start = 0;
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    const auto& len = pieces_[i].length;
    if (!len) {
      // An open piece absorbs everything from its start: its end is not known yet.
      return Position{i, staging_offset - start};
    }
    if (staging_offset < start + *len) {
      return Position{i, staging_offset - start};
    }
    start += *len;
  }
  if (staging_offset == start) {
    return Position{pieces_.size(), 0};
  }
  return std::nullopt;
}

std::uint64_t PiecePlan::staging_start(std::size_t i) const {
  std::uint64_t start = 0;
  for (std::size_t k = 0; k < i && k < pieces_.size(); ++k) {
    start += pieces_[k].length.value_or(0);
  }
  return start;
}

}  // namespace bgcopy::transfer
