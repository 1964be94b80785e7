// See mpi_session.h.
#include "dist/mpi_session.h"

#include <mpi.h>
#include <pthread.h>

#include <csignal>

#include <cstdio>
#include <cstdlib>

namespace dseek::dist {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw MpiError(std::string(what) + ": " + std::string(text, static_cast<size_t>(len)));
}

MpiSession::MpiSession(int* argc, char*** argv) {
  // The exchange runs on whichever thread calls forward (serve's engine
  // thread) while the watchdog may abort from its own: several threads call MPI.
  int provided = 0;
  const TerminationSignalsBlocked blocked;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
    throw MpiError("MPI_Init_thread failed (is this run under mpirun?)");
  check_mpi(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    throw MpiError("this MPI library gives no thread support beyond MPI_THREAD_FUNNELED");
  }
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

static_assert(sizeof(sigset_t) <= 128);

TerminationSignalsBlocked::TerminationSignalsBlocked() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, reinterpret_cast<sigset_t*>(old_));
}

TerminationSignalsBlocked::~TerminationSignalsBlocked() {
  pthread_sigmask(SIG_SETMASK, reinterpret_cast<sigset_t*>(old_), nullptr);
}

MpiSession::~MpiSession() { MPI_Finalize(); }

void abort_job(const std::string& message, int code) {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "dseek --ep: rank %d: %s; ending the job\n", rank, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest if it did
}

}  // namespace dseek::dist
