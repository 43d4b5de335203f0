# The one place that decides how many threads a call uses. Kernels ask acquire_team(nbytes)
# before a parallel region; a result above 1 must be handed back with release_team().
cdef int acquire_team(Py_ssize_t nbytes) noexcept nogil
cdef void release_team() noexcept nogil
