# radixserve_gtest(NAME src... LIBS lib...): a GoogleTest binary registered with CTest.
# Tests run from the source root so fixture paths are stable (tests/fixtures/...).
function(radixserve_gtest name)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  radixserve_target_warnings(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "RADIXSERVE_BUILD_DIR=${PROJECT_BINARY_DIR}")
endfunction()

# radixserve_pytest(NAME path): a pytest file or folder run with the project venv.
function(radixserve_pytest name path)
  add_test(NAME ${name}
           COMMAND ${PROJECT_SOURCE_DIR}/.venv/bin/python -m pytest -q -p no:cacheprovider ${path}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "RADIXSERVE_BUILD_DIR=${PROJECT_BINARY_DIR}")
endfunction()
