# The /dashboard page: npm ci (only when package-lock.json changes), esbuild bundle, and the
# bundle embedded into pylon_server as a generated C++ source. Everything lands in the build
# dir (build/web-dashboard), so the source tree, and every worktree or clone of it, stays clean.
# Included from the top-level CMakeLists.txt after pylon_server is defined.
set(PYLON_WEB_SRC ${CMAKE_SOURCE_DIR}/web/dashboard)
set(PYLON_WEB_BUILD ${CMAKE_BINARY_DIR}/web-dashboard)

find_program(NPM_BIN npm)
find_program(NODE_BIN NAMES node nodejs)
if(NOT EXISTS "${NPM_BIN}" OR NOT EXISTS "${NODE_BIN}")
  message(FATAL_ERROR
    "npm and node are needed to build /dashboard (web/dashboard is bundled into pylon-server).\n"
    "Install Node.js 20 and npm (Debian: apt-get install nodejs npm, or run scripts/install-deps.sh).")
endif()

# npm ci into the build dir; the stamp depends on the lock file, so it reruns only when it changes.
set(PYLON_WEB_STAMP ${PYLON_WEB_BUILD}/node_modules/.pylon-npm-ci.stamp)
add_custom_command(
  OUTPUT ${PYLON_WEB_STAMP}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PYLON_WEB_BUILD}
  COMMAND ${CMAKE_COMMAND} -E copy_if_different ${PYLON_WEB_SRC}/package.json ${PYLON_WEB_SRC}/package-lock.json
          ${PYLON_WEB_BUILD}/
  # --ignore-scripts: esbuild's postinstall only swaps its JS launcher for the native binary
  # (an optimisation); nothing else here has install scripts.
  COMMAND ${NPM_BIN} ci --ignore-scripts --no-audit --no-fund --loglevel=error
  COMMAND ${CMAKE_COMMAND} -E touch ${PYLON_WEB_STAMP}
  DEPENDS ${PYLON_WEB_SRC}/package.json ${PYLON_WEB_SRC}/package-lock.json
  WORKING_DIRECTORY ${PYLON_WEB_BUILD}
  COMMENT "npm ci for the dashboard (web/dashboard/package-lock.json)"
  VERBATIM)

# esbuild: our modules + cytoscape + uPlot into one script and one stylesheet. NODE_PATH lets
# it resolve the packages from the build dir while reading our sources from the tree.
file(GLOB PYLON_WEB_SOURCES CONFIGURE_DEPENDS ${PYLON_WEB_SRC}/src/*.js ${PYLON_WEB_SRC}/src/*.css)
set(PYLON_WEB_DIST ${PYLON_WEB_BUILD}/dist)
add_custom_command(
  OUTPUT ${PYLON_WEB_DIST}/dashboard.js ${PYLON_WEB_DIST}/dashboard.css
  COMMAND ${CMAKE_COMMAND} -E env NODE_PATH=${PYLON_WEB_BUILD}/node_modules
          ${PYLON_WEB_BUILD}/node_modules/.bin/esbuild
          ${PYLON_WEB_SRC}/src/main.js --bundle --minify --format=iife --target=es2020
          --legal-comments=eof --log-level=warning --outfile=${PYLON_WEB_DIST}/dashboard.js
  DEPENDS ${PYLON_WEB_STAMP} ${PYLON_WEB_SOURCES}
  COMMENT "esbuild: bundling the dashboard"
  VERBATIM)

set(PYLON_WEB_ASSETS_CC ${PYLON_WEB_BUILD}/dashboard_assets.cc)
add_custom_command(
  OUTPUT ${PYLON_WEB_ASSETS_CC}
  COMMAND ${CMAKE_COMMAND} -DDIST_DIR=${PYLON_WEB_DIST} -DPAGE=${PYLON_WEB_SRC}/src/index.html
          -DOUT=${PYLON_WEB_ASSETS_CC} -P ${PYLON_WEB_SRC}/embed.cmake
  DEPENDS ${PYLON_WEB_DIST}/dashboard.js ${PYLON_WEB_DIST}/dashboard.css ${PYLON_WEB_SRC}/src/index.html
          ${PYLON_WEB_SRC}/embed.cmake
  COMMENT "Embedding the dashboard into pylon-server"
  VERBATIM)

target_sources(pylon_server PRIVATE ${PYLON_WEB_ASSETS_CC})
