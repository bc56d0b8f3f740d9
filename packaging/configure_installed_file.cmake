# Runs inside `cmake --install` (see CMakeLists.txt): configures BROKERD_TEMPLATE into
# BROKERD_OUTPUT with the paths of this installation. CMAKE_INSTALL_PREFIX is the prefix
# being installed to (--prefix, or the configured one); DESTDIR is not part of any path.
foreach(kind BINDIR LIBDIR INCLUDEDIR SYSCONFDIR)
  if(IS_ABSOLUTE "${BROKERD_${kind}}")
    set(BROKERD_FULL_${kind} "${BROKERD_${kind}}")
    set(BROKERD_PC_${kind} "${BROKERD_${kind}}")
  else()
    set(BROKERD_FULL_${kind} "${CMAKE_INSTALL_PREFIX}/${BROKERD_${kind}}")
    set(BROKERD_PC_${kind} "\${prefix}/${BROKERD_${kind}}")
  endif()
endforeach()
set(BROKERD_PREFIX "${CMAKE_INSTALL_PREFIX}")
configure_file("${BROKERD_TEMPLATE}" "${BROKERD_OUTPUT}" @ONLY)
