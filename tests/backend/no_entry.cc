// A shared library that is not a plugin: it lacks the entry point.
extern "C" int radixserve_not_a_plugin() { return 42; }
