// Where each byte of the staging file comes from. The staging file is the file's pieces laid
// end to end: the whole remote file as one piece, or the requested ranges in the order given
// (bits-do-spec section 4.1). Pure bookkeeping, no I/O.
#pragma once

#include "base/error.hpp"
#include "engine/types.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace bgcopy::transfer {

class PiecePlan {
 public:
  /// The whole remote file; its length is the remote size, if known.
  static PiecePlan whole_file(std::optional<std::uint64_t> remote_size);
  /// The listed ranges in order. A kLengthToEof range is open until the remote size is known.
  static PiecePlan from_ranges(const std::vector<engine::FileRange>& ranges);

  bool whole() const { return whole_; }
  std::size_t count() const { return pieces_.size(); }
  std::uint64_t offset(std::size_t i) const { return pieces_[i].offset; }
  /// nullopt: runs to the end of the remote file, whose size is not known yet.
  std::optional<std::uint64_t> length(std::size_t i) const { return pieces_[i].length; }

  /// Staging bytes, once every length is known.
  std::optional<std::uint64_t> total() const;

  /// Fixes every open length from the remote file's size and checks that every range lies
  /// inside it. Errors: DO_E_INVALID_RANGE (context REMOTE_FILE). For the whole file it just
  /// sets the length.
  Status apply_remote_size(std::uint64_t size);
  /// Forgets lengths learnt from a remote size (the remote changed).
  void forget_remote_size();
  /// Records the length of a piece whose end was found by reading to EOF.
  void set_length(std::size_t i, std::uint64_t length);

  /// The remote size implied by a recorded bytes_total when some ranges run to EOF:
  /// total = fixed lengths + sum(size - offset) over open ranges. nullopt when there is no open
  /// range or the numbers are inconsistent.
  std::optional<std::uint64_t> remote_size_from_total(std::uint64_t bytes_total) const;

  struct Position {
    std::size_t index = 0;     // == count() when every piece is complete
    std::uint64_t within = 0;  // bytes of that piece already in the staging file
    friend bool operator==(const Position&, const Position&) = default;
  };
  /// Which piece the staging offset falls in; a piece boundary belongs to the next piece.
  /// nullopt when the offset lies past the end of the plan (more bytes than the plan holds).
  std::optional<Position> locate(std::uint64_t staging_offset) const;

  /// Staging offset where piece i starts (every earlier length must be known).
  std::uint64_t staging_start(std::size_t i) const;

 private:
  struct Piece {
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;
    bool to_eof = false;
  };
  bool whole_ = true;
  std::vector<Piece> pieces_;
};

}  // namespace bgcopy::transfer
