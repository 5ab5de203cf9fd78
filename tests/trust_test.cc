// The trust score and the seal policy (engine/trust.h); being written.
#include <doctest/doctest.h>
