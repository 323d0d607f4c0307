// SHOAL_HAS_ADDRESS_SANITIZER: 1 in a build under AddressSanitizer (clang or
// gcc), else 0. Tests that fork while other threads allocate skip themselves
// there: the AddressSanitizer runtime of Debian's clang 14 is not fork-safe.
#ifndef SHOAL_TESTS_INTEGRATION_SANITIZERS_H_
#define SHOAL_TESTS_INTEGRATION_SANITIZERS_H_

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHOAL_HAS_ADDRESS_SANITIZER 1
#endif
#endif
#if !defined(SHOAL_HAS_ADDRESS_SANITIZER) && defined(__SANITIZE_ADDRESS__)
#define SHOAL_HAS_ADDRESS_SANITIZER 1
#endif
#ifndef SHOAL_HAS_ADDRESS_SANITIZER
#define SHOAL_HAS_ADDRESS_SANITIZER 0
#endif

#endif  // SHOAL_TESTS_INTEGRATION_SANITIZERS_H_
