#include "cli/help.hpp"

#include <array>
#include <utility>

namespace bgcopy::cli {
namespace {

constexpr std::string_view kJobArg = R"(
    JOB is the job's id, a GUID such as {C775D194-090F-431F-B5FB-8334D00D1CB6} (braces and
    case optional), or the display name of exactly one of your jobs. A name that matches no
    job, or several, is an error (exit 1).)";

constexpr std::string_view kExitCommon = R"(
EXIT STATUS
    0   success
    1   the request failed; stderr has one line
          bgcopy: <what> failed: 0xXXXXXXXX NAME: <message>
        and nothing is printed on stdout
    2   usage error (unknown option, missing or malformed argument))";

constexpr std::string_view kMain = R"(NAME
    bgcopy - background file transfers with BITS job semantics

SYNOPSIS
    bgcopy [--socket PATH | --system] COMMAND [ARGUMENTS...]
    bgcopy COMMAND --help
    bgcopy --version

DESCRIPTION
    bgcopy drives bgcopyd, the bgcopy transfer service. A job is an ordered list of files to
    download. The service transfers them in the background, politely, across network drops,
    service restarts and reboots; files stay under hidden staging names until you run
    `bgcopy complete`, which moves them to their final paths and ends the job.

    A job starts SUSPENDED; `resume` queues it. It then moves through QUEUED, CONNECTING and
    TRANSFERRING to TRANSFERRED, or to ERROR (needs you) or TRANSIENT_ERROR (retried by the
    service). `complete` makes it ACKNOWLEDGED, `cancel` CANCELLED; both end it.

COMMANDS
    create      create an empty job and print its id
    add         add a file to a job
    add-set     add every file listed in a file (all or none)
    resume      queue a job for transfer
    suspend     pause a job, keeping what it has downloaded
    cancel      end a job and delete its partial data
    complete    move transferred files to their final names and end the job
    info        show everything about a job
    files       show a job's files
    list        show your jobs
    set         change a setting of a job
    wait        wait until a job is TRANSFERRED or in ERROR
    monitor     live progress of your jobs
    transfer    download now: create, add, resume, show progress, complete

    Run `bgcopy COMMAND --help` for a command's synopsis, options and examples.

OPTIONS
    --socket PATH
        Talk to the service listening at PATH.
    --system
        Talk to the system service (/run/bgcopy/bgcopyd.sock) instead of your own.
    -h, --help
        Show this help.
    --version
        Print the versions of bgcopy and libbgcopy.

SERVICE AUTO-START
    In user mode, when nothing answers on the socket, bgcopy starts the user service itself:
    it runs the bgcopyd found next to the bgcopy executable (else the first in PATH) in a new
    session, detached, with its output appended to STATE_DIR/bgcopyd.log, and waits up to 10
    seconds for it to answer. It never starts the system service. Set BGCOPY_NO_AUTOSTART=1
    to turn this off.

ENVIRONMENT
    BGCOPY_SOCKET      socket of the service; overrides the defaults below
    XDG_RUNTIME_DIR    the user socket is $XDG_RUNTIME_DIR/bgcopy/bgcopyd.sock
    BGCOPY_STATE_DIR   state directory (also of an auto-started service); otherwise
                       $XDG_STATE_HOME/bgcopy, or ~/.local/state/bgcopy
    BGCOPY_NO_AUTOSTART
                       when set to 1, never start bgcopyd
    TZ                 time zone of the times in human output (--json is always UTC)

EXIT STATUS
    0   success
    1   the request failed, or (wait, transfer) the job ended in ERROR
    2   usage error
    3   wait: the timeout passed first
    130 transfer: interrupted by Ctrl-C (the job was suspended, not lost)

    On failure stderr has one line `bgcopy: <what> failed: 0xXXXXXXXX NAME: <message>` and
    nothing is printed on stdout.

EXAMPLES
    bgcopy transfer https://example.org/big.iso big.iso
    id=$(bgcopy create nightly)
    bgcopy add "$id" https://example.org/a.tar /srv/mirror/a.tar
    bgcopy resume "$id" && bgcopy wait "$id" && bgcopy complete "$id"
)";

constexpr std::string_view kCreate = R"(NAME
    bgcopy create - create an empty job

SYNOPSIS
    bgcopy create [--type download|upload|upload-reply] [--priority P] NAME

DESCRIPTION
    Creates a job owned by you, in state SUSPENDED, with display name NAME, and prints its id
    ({GUID}, upper-case, with braces) alone on one line. Add files with `bgcopy add`, then
    `bgcopy resume` it.

OPTIONS
    --type download|upload|upload-reply
        The kind of job (default download).
    --priority foreground|high|normal|low
        Scheduling priority (default normal). Foreground jobs run at once, ignore the
        background bandwidth limit and fetch a few of their next small files while the
        current one runs; background jobs run by priority, a few at a time, each one
        file at a time.
)";

constexpr std::string_view kCreateTail = R"(
EXAMPLES
    id=$(bgcopy create --priority high nightly-mirror)
)";

constexpr std::string_view kAdd = R"(NAME
    bgcopy add - add a file to a job

SYNOPSIS
    bgcopy add JOB URL LOCAL_PATH [--sha256 HEX] [--range OFF:LEN[,OFF:LEN|eof...]]

DESCRIPTION
    Adds the file at URL to JOB, to be saved as LOCAL_PATH. A relative LOCAL_PATH is made
    absolute against the current directory. Its directory must exist and be writable by you.
    Files transfer in the order they were added.
)";

constexpr std::string_view kAddOptions = R"(
OPTIONS
    --sha256 HEX
        The file's SHA-256 (64 hex digits). Checked before the job becomes TRANSFERRED; a
        mismatch is fatal (0x80200053 BG_E_VALIDATION_FAILED) and the data is discarded.
    --range OFF:LEN[,OFF:LEN...]
        Download only these byte ranges of the remote file; the local file is the ranges
        concatenated in the order given. LEN may be "eof" for "to the end of the file".
        Overlapping ranges fail with DO_E_OVERLAPPING_RANGES, empty ones with
        DO_E_INVALID_RANGE; malformed text is a usage error.
)";

constexpr std::string_view kAddTail = R"(
EXAMPLES
    bgcopy add nightly https://example.org/a.iso /srv/a.iso
    bgcopy add nightly https://example.org/a.iso a.iso --sha256 9f86d0...
    bgcopy add nightly https://example.org/disk.img head.bin --range 0:512,1048576:eof
)";

constexpr std::string_view kAddSet = R"(NAME
    bgcopy add-set - add the files listed in a file

SYNOPSIS
    bgcopy add-set JOB LISTFILE

DESCRIPTION
    Adds every file listed in LISTFILE ("-" reads standard input) to JOB, all or none. Each
    line is "URL LOCAL_PATH", separated by spaces or tabs; the local path is the rest of the
    line (it may contain spaces). Blank lines and lines starting with '#' are skipped. Local
    paths must be absolute: a relative one fails (E_INVALIDARG, naming the line) and nothing
    is added.
)";

constexpr std::string_view kAddSetTail = R"(
EXAMPLES
    printf '%s\n' '# mirror' 'https://example.org/a /srv/a' 'https://example.org/b /srv/b' \
        | bgcopy add-set nightly -
)";

constexpr std::string_view kResume = R"(NAME
    bgcopy resume - queue a job for transfer

SYNOPSIS
    bgcopy resume JOB

DESCRIPTION
    Moves a SUSPENDED, ERROR or TRANSIENT_ERROR job to QUEUED. An active job is left alone
    (success). A job without files fails with 0x80D02004 DO_E_JOB_EMPTY and stays SUSPENDED;
    a TRANSFERRED job fails with DO_E_INVALID_STATE.
)";

constexpr std::string_view kResumeTail = R"(
EXAMPLES
    bgcopy resume nightly
)";

constexpr std::string_view kSuspend = R"(NAME
    bgcopy suspend - pause a job

SYNOPSIS
    bgcopy suspend JOB

DESCRIPTION
    Stops transferring JOB and makes it SUSPENDED. What was downloaded is kept and continues
    from there on `bgcopy resume`.
)";

constexpr std::string_view kSuspendTail = R"(
EXAMPLES
    bgcopy suspend nightly
)";

constexpr std::string_view kCancel = R"(NAME
    bgcopy cancel - end a job and delete its partial data

SYNOPSIS
    bgcopy cancel JOB

DESCRIPTION
    Deletes every staging file of JOB; the job becomes CANCELLED and is gone: later lookups
    answer DO_E_JOB_NOT_FOUND. Files already moved to their final names by an earlier
    complete are not touched. When a staging file cannot be deleted the command still
    succeeds and prints a warning (0x0020001A BG_S_UNABLE_TO_DELETE_FILES) on stderr.
)";

constexpr std::string_view kCancelTail = R"(
EXAMPLES
    bgcopy cancel {C775D194-090F-431F-B5FB-8334D00D1CB6}
)";

constexpr std::string_view kComplete = R"(NAME
    bgcopy complete - move transferred files to their final names and end the job

SYNOPSIS
    bgcopy complete JOB

DESCRIPTION
    Renames every fully transferred file of JOB from its staging name to its final name
    (with fsync), deletes partial ones, and ends the job (ACKNOWLEDGED). When unfinished files
    were dropped the command succeeds with a warning on stderr (0x00200017
    BG_S_PARTIAL_COMPLETE). When a rename fails the job stays TRANSFERRED and complete can be
    run again.
)";

constexpr std::string_view kCompleteTail = R"(
EXAMPLES
    bgcopy wait nightly && bgcopy complete nightly
)";

constexpr std::string_view kInfo = R"(NAME
    bgcopy info - show everything about a job

SYNOPSIS
    bgcopy info JOB [--json]

DESCRIPTION
    Prints JOB's state (and why it is not moving, when it is not), type, priority, owner,
    progress, times, error (code, name, context, message, file), settings and files.

OPTIONS
    --json
        Print the job as one JSON object, exactly as the local API's GET /v1/jobs/{id}:
        snake_case keys, upper-case names, sizes as integers (unknown: null), times in
        RFC 3339 UTC. Indented when stdout is a terminal, one line otherwise.
)";

constexpr std::string_view kInfoTail = R"(
EXAMPLES
    bgcopy info nightly
    bgcopy info nightly --json | jq -r .state
)";

constexpr std::string_view kFiles = R"(NAME
    bgcopy files - show a job's files

SYNOPSIS
    bgcopy files JOB [--json]

DESCRIPTION
    Prints one line per file, in transfer order:
        INDEX BYTES_DONE / BYTES_TOTAL|UNKNOWN STATUS URL -> LOCAL_PATH
    STATUS is PENDING (nothing yet), WORKING (partly transferred), TRANSFERRED, VERIFIED
    (transferred and its sha256 matched) or COMPLETED (moved to its final name).

OPTIONS
    --json
        Print a JSON array of file objects, as the local API's GET /v1/jobs/{id}/files.
)";

constexpr std::string_view kFilesTail = R"(
EXAMPLES
    bgcopy files nightly
)";

constexpr std::string_view kList = R"(NAME
    bgcopy list - show your jobs

SYNOPSIS
    bgcopy list [--all-users] [--json]

DESCRIPTION
    Prints one line per job, oldest first:
        {GUID} 'NAME' STATE FILES_DONE / FILES_TOTAL BYTES_DONE / BYTES_TOTAL|UNKNOWN
    Completed and cancelled jobs are gone and not listed. No jobs: no output.

OPTIONS
    --all-users
        Every user's jobs (root only; otherwise 0x80070005 E_ACCESSDENIED).
    --json
        Print a JSON array of job objects, as the local API's GET /v1/jobs.
)";

constexpr std::string_view kListTail = R"(
EXAMPLES
    bgcopy list
    bgcopy list --json | jq -r '.[] | select(.state == "ERROR") | .id'
)";

constexpr std::string_view kSet = R"(NAME
    bgcopy set - change a setting of a job

SYNOPSIS
    bgcopy set JOB KEY VALUE...

DESCRIPTION
    Changes one setting of JOB. KEY is one of:
      priority P               foreground, high, normal or low
      display-name TEXT        at most 256 characters
      description TEXT         at most 1024 characters
      min-retry-delay D        wait before retrying after a transient error (at least 5 s;
                               default 600)
      no-progress-timeout D    how long a job may make no progress after a transient error
                               before it becomes ERROR (0: every error is fatal; default 14d)
      max-download-time D      longest time a job may spend transferring (default 90d)
      notify-flags N           BG_NOTIFY_* bits, decimal or 0x hex: 0x1 TRANSFERRED,
                               0x2 ERROR, 0x4 DISABLE, 0x8 MODIFICATION, 0x10 FILE_TRANSFERRED
      notify-cmdline PROGRAM [ARG...]
                               program run (no shell) when a notification fires; PROGRAM must
                               be absolute. A single VALUE is split into words like a shell
                               would; "" or NULL removes the command line
      proxy preconfig | autodetect | no-proxy | override LIST [BYPASS]
      tls-verify true|false    check TLS certificates (default true)
    A duration D is seconds ("600"), or a number with a unit: 90s, 10m, 2h, 14d.
    An unknown key or a malformed value is a usage error (exit 2); a value the service
    refuses (e.g. a 2-second retry delay) fails with E_INVALIDARG (exit 1).
)";

constexpr std::string_view kSetTail = R"(
EXAMPLES
    bgcopy set nightly priority low
    bgcopy set nightly min-retry-delay 30s
    bgcopy set nightly notify-cmdline '/usr/bin/logger -t bgcopy job done'
    bgcopy set nightly proxy override http://proxy:3128 '<local>'
)";

constexpr std::string_view kWait = R"(NAME
    bgcopy wait - wait until a job is TRANSFERRED or in ERROR

SYNOPSIS
    bgcopy wait JOB [--timeout SECONDS]

DESCRIPTION
    Blocks until JOB is TRANSFERRED (prints TRANSFERRED, exit 0) or in ERROR (prints the
    error on stderr, exit 1). TRANSIENT_ERROR does not end the wait: the service retries by
    itself. A SUSPENDED job is waited for as well (someone may resume it). The job is not
    changed: complete or cancel it afterwards.

OPTIONS
    --timeout SECONDS
        Give up after SECONDS (decimals and units as in `bgcopy set` allowed): exit 3 with
        the job's state on stderr. Default: wait forever.
)";

constexpr std::string_view kWaitTail = R"(
EXIT STATUS
    0   the job is TRANSFERRED
    1   the job is in ERROR (stderr: bgcopy: job {GUID} failed: 0xXXXXXXXX NAME: <message>),
        or the request failed (the job is gone: DO_E_JOB_NOT_FOUND, ...)
    2   usage error
    3   the timeout passed first

EXAMPLES
    bgcopy wait nightly --timeout 3600 && bgcopy complete nightly
)";

constexpr std::string_view kMonitor = R"(NAME
    bgcopy monitor - live progress of your jobs

SYNOPSIS
    bgcopy monitor [JOB]

DESCRIPTION
    Shows every job of yours (or only JOB) with its state, a progress bar, bytes, transfer
    rate and estimated time left, redrawn in place about once a second and whenever the
    service reports a change. When stdout is not a terminal it prints plain lines instead:
        {GUID} 'NAME' STATE [PERCENT] DONE / TOTAL [RATE ETA T]
    one per job whenever the job's state or progress changes (at most once a second per job).

    Without JOB it runs until Ctrl-C (exit 0). With JOB it ends when the job is TRANSFERRED
    (exit 0), in ERROR (exit 1) or gone (exit 0), or on Ctrl-C (exit 0).
)";

constexpr std::string_view kMonitorTail = R"(
EXAMPLES
    bgcopy monitor
    bgcopy monitor nightly > progress.log
)";

constexpr std::string_view kTransfer = R"(NAME
    bgcopy transfer - download files now

SYNOPSIS
    bgcopy transfer [--priority P] [--sha256 HEX]... [--name NAME] URL LOCAL_PATH
                    [URL LOCAL_PATH ...]

DESCRIPTION
    Creates a job with the files and resumes it, in one request (all or nothing: after an
    error no job is left), then shows its progress on stderr (a progress bar on a terminal,
    a line per change otherwise). Transient errors are waited out: the service retries. When
    the job is TRANSFERRED, completes it (the files appear at their LOCAL_PATHs) and prints
    "Transfer complete." on stdout. When it ends in ERROR, prints the error, cancels the job
    and exits 1. Relative LOCAL_PATHs are made absolute against the current directory.

    Ctrl-C (SIGINT) or SIGTERM suspends the job rather than losing what was downloaded,
    prints its id and how to go on (`bgcopy resume ID` then `bgcopy wait ID` and
    `bgcopy complete ID`, or `bgcopy cancel ID`), and exits 130.

OPTIONS
    --priority foreground|high|normal|low
        The job's priority (default foreground, as Start-BitsTransfer: the transfer starts
        at once instead of queueing behind background jobs).
    --sha256 HEX
        Expected SHA-256 of a file. Give it once per file, in the order of the files, or not
        at all; any other count is a usage error.
    --name NAME
        The job's display name (default "bgcopy transfer").
)";

constexpr std::string_view kTransferTail = R"(
EXIT STATUS
    0   every file transferred and is in place
    1   the job ended in ERROR (it was cancelled), or a request failed
    2   usage error
    130 interrupted; the job is suspended and can be resumed

EXAMPLES
    bgcopy transfer https://example.org/big.iso big.iso
    bgcopy transfer --priority normal https://h/a /srv/a https://h/b /srv/b
)";

struct Entry {
  std::string_view verb;
  std::string_view head;
  std::string_view middle;  // after the head: the JOB paragraph where the verb takes one
  std::string_view tail;
};

constexpr std::array<Entry, 14> kEntries{{
    {"create", kCreate, {}, kCreateTail},
    {"add", kAdd, kJobArg, kAddTail},
    {"add-set", kAddSet, kJobArg, kAddSetTail},
    {"resume", kResume, kJobArg, kResumeTail},
    {"suspend", kSuspend, kJobArg, kSuspendTail},
    {"cancel", kCancel, kJobArg, kCancelTail},
    {"complete", kComplete, kJobArg, kCompleteTail},
    {"info", kInfo, kJobArg, kInfoTail},
    {"files", kFiles, kJobArg, kFilesTail},
    {"list", kList, {}, kListTail},
    {"set", kSet, kJobArg, kSetTail},
    {"wait", kWait, kJobArg, kWaitTail},
    {"monitor", kMonitor, kJobArg, kMonitorTail},
    {"transfer", kTransfer, {}, kTransferTail},
}};

}  // namespace

std::string help_text(std::string_view verb) {
  if (verb.empty()) {
    return std::string(kMain);
  }
  for (const auto& e : kEntries) {
    if (e.verb != verb) {
      continue;
    }
    std::string text(e.head);
    if (!e.middle.empty()) {
      // The JOB paragraph closes DESCRIPTION, before OPTIONS when the head has them.
      const auto options = text.find("\nOPTIONS\n");
      const std::string paragraph = std::string(e.middle) + "\n";
      if (options == std::string::npos) {
        text += paragraph;
      } else {
        text.insert(options, paragraph);
      }
    }
    if (verb == "add") {
      text += kAddOptions;
    }
    // Verbs with their own EXIT STATUS section carry it in the tail.
    if (e.tail.find("EXIT STATUS") == std::string_view::npos) {
      text += kExitCommon;
      text += '\n';
    }
    text += e.tail;
    return text;
  }
  return {};
}

const std::vector<std::string_view>& verbs() {
  static const std::vector<std::string_view> list = [] {
    std::vector<std::string_view> v;
    for (const auto& e : kEntries) {
      v.push_back(e.verb);
    }
    return v;
  }();
  return list;
}

}  // namespace bgcopy::cli
