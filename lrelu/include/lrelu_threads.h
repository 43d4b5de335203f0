/* The C side of lrelu's one threading decision (lrelu/_threads.pyx): OpenMP queries that
 * compile without OpenMP, a fork handler, and a one-team-at-a-time guard. */
#ifndef LRELU_THREADS_H
#define LRELU_THREADS_H

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(_WIN32)
#include <intrin.h>
#else
#include <pthread.h>
#endif

static int lrelu_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* yyyymm of the OpenMP spec the compiler implements; 0 when built without OpenMP. */
static int lrelu_openmp_version(void)
{
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

/* What an `omp parallel` without num_threads would use in the calling thread: this honours
 * OMP_NUM_THREADS, and threadpoolctl, which calls omp_set_num_threads. */
static int lrelu_omp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* GNU libgomp hangs in a child forked after the parent used its thread pool: the child
 * inherits a pool whose threads did not survive the fork, and the next parallel region waits
 * for them forever. PyTorch DataLoader workers and multiprocessing's "fork" start method do
 * exactly this (issue #3). The child handler makes every later call in the child serial. */
static volatile int lrelu_forked_child = 0;
static volatile long lrelu_team_busy = 0;

static void lrelu_atfork_child(void)
{
    lrelu_forked_child = 1;
    lrelu_team_busy = 0;    /* a team running in the parent's other threads is not ours */
}

static int lrelu_install_atfork(void)
{
#if defined(_WIN32)
    return 0;               /* no fork on Windows */
#else
    return pthread_atfork(NULL, NULL, lrelu_atfork_child);
#endif
}

/* One OpenMP team at a time, process-wide. A call that finds the team busy (another Python
 * thread is in a parallel region) runs serially instead of starting a second team, so P
 * Python threads keep at most P + T - 1 threads busy, not P * T. (GNU libgomp still parks an
 * idle pool of T - 1 threads for every Python thread that ever led a team, until that thread
 * ends: up to P * T threads exist, asleep; tests/test_concurrency.py measures it.) */
static int lrelu_try_acquire_team(void)
{
#if defined(_MSC_VER)
    return _InterlockedCompareExchange(&lrelu_team_busy, 1, 0) == 0;
#else
    long expected = 0;
    return __atomic_compare_exchange_n(&lrelu_team_busy, &expected, 1, 0,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
#endif
}

static void lrelu_release_team(void)
{
#if defined(_MSC_VER)
    _InterlockedExchange(&lrelu_team_busy, 0);
#else
    __atomic_store_n(&lrelu_team_busy, 0, __ATOMIC_RELEASE);
#endif
}

#endif
