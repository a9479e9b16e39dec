#include "files.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace bgcopy::test {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kGenDomain = "bgcopy-gen";
constexpr std::uint64_t kGenBlock = 32;

[[noreturn]] void fail(const std::string& what, const fs::path& path, int err) {
  throw std::runtime_error(what + "(" + path.string() + "): " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtx new_sha256() {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_DigestInit_ex(sha256) failed");
  }
  return ctx;
}

std::string finish_hex(EVP_MD_CTX* ctx) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, md.data(), &len) != 1) {
    throw std::runtime_error("EVP_DigestFinal_ex failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0x0F]);
  }
  return out;
}

void put_u64le(unsigned char* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<unsigned char>(v >> (8 * i));
  }
}

}  // namespace

std::string sha256_bytes(std::string_view data) {
  MdCtx ctx = new_sha256();
  EVP_DigestUpdate(ctx.get(), data.data(), data.size());
  return finish_hex(ctx.get());
}

std::string sha256_file(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    fail("open", path, errno);
  }
  MdCtx ctx = new_sha256();
  std::array<char, 1 << 16> buf{};
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("read", path, errno);
    }
    if (n == 0) {
      break;
    }
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
  }
  return finish_hex(ctx.get());
}

std::string read_file(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    fail("open", path, errno);
  }
  std::string out;
  std::array<char, 1 << 16> buf{};
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("read", path, errno);
    }
    if (n == 0) {
      return out;
    }
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
}

void write_file(const fs::path& path, std::string_view data) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    fail("open", path, errno);
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::vector<std::string> list_dir(const fs::path& path) {
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) {
    fail("list_dir", path, ec.value());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::uint64_t detail::FileSizeFn::operator()(const fs::path& path) const {
  std::error_code ec;
  std::uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    fail("file_size", path, ec.value());
  }
  return size;
}

std::string gen_slice(std::uint64_t seed, std::uint64_t offset, std::uint64_t length) {
  std::string out;
  if (length == 0) {
    return out;
  }
  out.reserve(length);
  std::array<unsigned char, kGenDomain.size() + 16> input{};
  std::memcpy(input.data(), kGenDomain.data(), kGenDomain.size());
  put_u64le(input.data() + kGenDomain.size(), seed);
  std::array<unsigned char, 32> block{};
  const std::uint64_t end = offset + length;
  for (std::uint64_t i = offset / kGenBlock; i * kGenBlock < end; ++i) {
    put_u64le(input.data() + kGenDomain.size() + 8, i);
    unsigned int len = 0;
    if (EVP_Digest(input.data(), input.size(), block.data(), &len, EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("EVP_Digest(sha256) failed");
    }
    const std::uint64_t block_start = i * kGenBlock;
    const std::uint64_t from = std::max(offset, block_start) - block_start;
    const std::uint64_t to = std::min(end, block_start + kGenBlock) - block_start;
    out.append(reinterpret_cast<const char*>(block.data()) + from, to - from);
  }
  return out;
}

std::string gen_content(std::uint64_t size, std::uint64_t seed) {
  return gen_slice(seed, 0, size);
}

}  // namespace bgcopy::test
