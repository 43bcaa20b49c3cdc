# Install rules and the Debian package: programs in bin/, the Python helpers (charts, the HTML
# report, the micro-benchmark report, the Python echo server) and the result schemas in
# share/muxbench/.
# An installed sweep finds its helpers relative to its own executable (../share/muxbench).
include(GNUInstallDirs)

set(MUXBENCH_PROGRAMS echo-server loadgen loadgen-merge wait-bench sweep claims cost-model)
if(TARGET libuv-echo-server)
  list(APPEND MUXBENCH_PROGRAMS libuv-echo-server)
endif()
install(TARGETS ${MUXBENCH_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(MUXBENCH_DATA_DESTINATION ${CMAKE_INSTALL_DATADIR}/muxbench)
install(PROGRAMS plots/plot.py plots/report.py bench/micro_report.py
        DESTINATION ${MUXBENCH_DATA_DESTINATION})
# The modules plot.py imports from its own directory.
install(FILES plots/chartkit.py plots/maps.py plots/load_curves.py plots/workload_lines.py
        DESTINATION ${MUXBENCH_DATA_DESTINATION})
install(PROGRAMS servers/python/echo_server.py
        DESTINATION ${MUXBENCH_DATA_DESTINATION}/servers/python)
install(FILES results/README.md DESTINATION ${MUXBENCH_DATA_DESTINATION}/results)
install(DIRECTORY results/schema DESTINATION ${MUXBENCH_DATA_DESTINATION}/results)
# Finds the schemas as ../results/schema from where it is installed, as in the source tree.
install(PROGRAMS scripts/validate_results.py DESTINATION ${MUXBENCH_DATA_DESTINATION}/scripts)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME muxbench)
set(CPACK_PACKAGE_VENDOR "muxbench")
set(CPACK_PACKAGE_CONTACT "muxbench developers <muxbench@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Shared libraries from dpkg-shlibdeps; the Python helpers' needs by hand.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3, python3-matplotlib, python3-markdown")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-jsonschema")  # validate_results.py only
include(CPack)
