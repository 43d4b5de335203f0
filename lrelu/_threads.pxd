from cython.parallel cimport threadid

# The one place that decides how many threads a call uses (src/threads.c, lrelu/_threads.pyx).
# A kernel asks plan_begin(bytes per array, what kind of call, the last byte of a result that
# is no input or NULL) once per call, runs on
# plan.threads threads, and then calls plan_end(&plan), which hands the team back and records
# how long the call took.
cdef extern from "threads.h" nogil:
    ctypedef struct lrelu_plan:
        int threads
        int bucket
        int parallel
        double work
    enum:
        LRELU_PLAN_INPLACE
        LRELU_PLAN_OUT
        LRELU_PLAN_THREE
        LRELU_PLAN_CONVERT
        LRELU_PLAN_PRELU
        LRELU_PLAN_GRAD_INPLACE
        LRELU_PLAN_FRESH

cdef lrelu_plan plan_begin(Py_ssize_t nbytes, int kind, const void* result_end) noexcept nogil
cdef void plan_end(const lrelu_plan* plan) noexcept nogil
# The clock the planner uses: a team's calling thread times its own share of the work with it
# into plan.work (seconds), which is how the planner tells a late helper from a slow machine.
cdef double plan_clock() noexcept nogil


# Inside a team's parallel loop, around each piece of work: the calling thread (OpenMP's
# thread 0) adds the time it spent into plan.work. Helpers do not read the clock: only the
# caller's share tells the planner whether a helper was late.
cdef inline double share_begin() noexcept nogil:
    return plan_clock() if threadid() == 0 else 0.0


cdef inline void share_end(lrelu_plan* plan, double t0) noexcept nogil:
    if threadid() == 0:
        plan.work += plan_clock() - t0
