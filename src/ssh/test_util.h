// Helpers shared by this folder's unit tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "test/fakes/fake_random.h"

namespace bg::ssh::testing {

// Keys made by ssh-keygen (OpenSSH 9.2), with the fingerprints `ssh-keygen -l` printed.
inline constexpr const char* kEcdsa256Line =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDsxhaAyIoaej5KHSNvzg"
    "N8LfvBgszJ9B6lfqzdQljXZeOkZgGpwZzNr3/zq76YV6sxWYtPV1uwPuxEh1laACKw= ecdsab256@test";
inline constexpr const char* kEcdsa256Fp = "SHA256:tto71TxRnBL4rkpa/jQFt/CBX2lRmxtjYv5agnsM2zw";
inline constexpr const char* kEcdsa384Line =
    "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBO1HlvC3d334azzaoH0DG"
    "60NL6pf1D5TiOzc89/dy3VAnfP5P6Lcau0OANKDSptJJbevImL0sFPR67FLCqOgOJg365YEhm4SGLXKvM0Vj3UVoqrDpS"
    "eSSqO+vPMPmdfp1w== ecdsab384@test";
inline constexpr const char* kEcdsa384Fp = "SHA256:KpOlRVMwgFFA+YSikajwksdCTRuLtX75ag3Xzz/7vVQ";
inline constexpr const char* kEcdsa521Line =
    "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBABPcOsAz6Psw5gRDuCkw"
    "ZDDCIhJehelUmzQnvbIuImzTz4dXkBfFnD3/aO5X2uQMLmLoTmYDY9pC0s7xNo1PaGYAgFIZjvEtcLYRdBeSt+ur1QaIKI"
    "sv7Lpvuou0l+buN1NQu9NT0uaEQO7ssWYFdDIuo2uzErh3ttJK/m28WuBGJ6d7w== ecdsab521@test";
inline constexpr const char* kEcdsa521Fp = "SHA256:0jnAtnjVTtksctEdK7lArv2zptVtfJKfqSqTPF4/VQU";
inline constexpr const char* kRsa2048Line =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCitz/AlBPBu7z+CZycr56JQvn8uIINjKN38Tq+G6t9/ERKa+DlXLCLx"
    "Y0umJf1Pe/MsEBevTGdtomfgdmoIIATYDEdOHqtEjp+bg7vNugN5BCMFa30fUrKmaJpVZN/961w/07DQBroXUbBVqmu3/O"
    "t4Ui8b5OlyGeBGsodfD5de+PWzbo4QlLdkKUR28LyWAb35lff920nUsGcb6BKCIbYzNgd3Iu8F04XqP4Zp10fIzKcLuh5S"
    "Y2rZ5piSYiI1kNkqpT7fVxAjIxEMwmwL1B920VZj8oXvC+0rmpVJJ+e+rbFulTIal/tdiLaj8CXCRDpg3bgg9y9FF2U8V5"
    "iWF1B rsab2048@test";
inline constexpr const char* kRsa2048Fp = "SHA256:OL9mUECVBNB50PDtgoNPOJpWA/lrCPqtKOiSPnPmozk";
inline constexpr const char* kRsa1024Line =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCaQS5+t6S9ujt7zTzjfxvt2Bh+ZVQTSizr1YAqRz+kfWO7OskCoBl/0X"
    "pRA0qX+vDOHKWlB4iaB0W8CDN9NtFz2mU1SPo91RC3TavV1+XF/4ahCQtBFC2EmdG4Rv7wDKefcIn8rXSppVy4aN7rv8n8"
    "nqDDPGtY/rERb0CNcvqwqQ== rsab1024@test";
inline constexpr const char* kEd25519Line =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKNUZH+WUySeIJH7bnoKqBefd9//p+4yTkNChLO8zk4f root@vm";
inline constexpr const char* kEd25519Fp = "SHA256:xB/Gc99ee2i/HguX6tTcIb6N+KALrkl/L4RxUVJlgKM";
// A CA made by ssh-keygen, and a certificate it signed for kEd25519Line:
// ssh-keygen -s ca -I kg -n root -V 20300101000000:20300101010000 -z 42 -O clear -O permit-pty
//   -O force-command="echo hi" -O source-address=127.0.0.1/32   (TZ=UTC)
inline constexpr const char* kCaLine =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1wlX3oPWxNxzAGu20kVO5SgDqrksqERfUqa5b9fxJo root@vm";
inline constexpr const char* kCaFp = "SHA256:lxWHIvNHnPNFP7CUE1MMxsiDkBhKIEDTCVj98hOIc90";
inline constexpr const char* kSshKeygenCert =
    "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIMNgH1Qw"
    "E5jDWMLj0rpP9KfkvIBai1Omf1j+89ejyA5NAAAAIKNUZH+WUySeIJH7bnoKqBefd9//p+4yTkNChLO8zk4fAAAAAAAAAC"
    "oAAAABAAAAAmtnAAAACAAAAARyb290AAAAAHDb2IAAAAAAcNvmkAAAAEYAAAANZm9yY2UtY29tbWFuZAAAAAsAAAAHZWNo"
    "byBoaQAAAA5zb3VyY2UtYWRkcmVzcwAAABAAAAAMMTI3LjAuMC4xLzMyAAAAEgAAAApwZXJtaXQtcHR5AAAAAAAAAAAAAA"
    "AzAAAAC3NzaC1lZDI1NTE5AAAAIG1wlX3oPWxNxzAGu20kVO5SgDqrksqERfUqa5b9fxJoAAAAUwAAAAtzc2gtZWQyNTUx"
    "OQAAAEDEO5o58bxu8w4jxnJugVtK9w7Qk6X3nppQ5oOyXwlVtOMd20H0upW5QGYBxwlF5cG6S+fg1JzSPfHpioS/BqQG "
    "root@vm";

}  // namespace bg::ssh::testing
