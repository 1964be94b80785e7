// The MPI side of expert parallelism (--ep), kept to src/dist: only files
// here include <mpi.h>. MpiSession owns MPI's lifetime (init in the
// constructor, finalize in the destructor) for one process of an `mpirun`
// job; errors come back from MPI (MPI_ERRORS_RETURN) and are thrown as
// MpiError with MPI's own text, so no call fails silently.
#pragma once

#include <stdexcept>
#include <string>

namespace dseek::dist {

class MpiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws MpiError("<what>: <MPI's message>") when rc is not MPI_SUCCESS.
void check_mpi(int rc, const char* what);

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);  // throws MpiError
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0, size_ = 1;
};

// Blocks SIGINT and SIGTERM on the calling thread for its lifetime, so that
// threads started meanwhile (MPI's progress threads, the watchdog) inherit the
// block and the command's own handling (serve's graceful stop) gets them.
class TerminationSignalsBlocked {
 public:
  TerminationSignalsBlocked();
  ~TerminationSignalsBlocked();
  TerminationSignalsBlocked(const TerminationSignalsBlocked&) = delete;
  TerminationSignalsBlocked& operator=(const TerminationSignalsBlocked&) = delete;

 private:
  alignas(8) unsigned char old_[128];  // the previous sigset_t (kept opaque: no <signal.h> here)
};

// Ends every process of the job (a rank that can no longer take part: dead
// peer, lost connection, a timeout). Prints `message` on stderr first.
[[noreturn]] void abort_job(const std::string& message, int code);

}  // namespace dseek::dist
