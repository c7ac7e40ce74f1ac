# The Debian package (scripts/package.sh, docs/operations.md): what a server
# install adds to `cmake --install` (the systemd unit, the config in /etc and
# the operations guide), and the CPack settings the script hands to cpack.
#
# These rules are in the `service` component and EXCLUDE_FROM_ALL: a plain
# `cmake --install build --prefix DIR` (the SDK tutorial) never writes to
# /etc or /lib. scripts/package.sh installs the default component and this
# one into a staging root (DESTDIR, stripped) and packages that root, so
# packaging never builds anything.
set(ILPGW_DEB_DIR ${PROJECT_SOURCE_DIR}/packaging/deb)

install(FILES ${ILPGW_DEB_DIR}/ilp-gateway.service DESTINATION /lib/systemd/system
        COMPONENT service EXCLUDE_FROM_ALL)
# Readable by root and (after postinst) the service group only: it may hold
# the upstream client secret.
install(FILES ${ILPGW_DEB_DIR}/gateway.json DESTINATION /etc/ilp-gateway
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ COMPONENT service EXCLUDE_FROM_ALL)
install(FILES docs/operations.md docs/configuration.md docs/security.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/ilp-gateway COMPONENT service EXCLUDE_FROM_ALL)

# Read by cpack (--config); scripts/package.sh passes the staging root, the
# output directory and, when asked, another version with -D.
set(ILPGW_DEB_MAINTAINER_SCRIPTS "${ILPGW_DEB_DIR}/postinst;${ILPGW_DEB_DIR}/prerm;${ILPGW_DEB_DIR}/postrm;${ILPGW_DEB_DIR}/conffiles")
configure_file(${PROJECT_SOURCE_DIR}/cmake/CPackDeb.cmake.in ${CMAKE_BINARY_DIR}/CPackDeb.cmake @ONLY)
