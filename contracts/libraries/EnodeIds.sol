// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Besu enode ids (node public keys) as Consortium registers them and Besu sends them.
/// @notice The canonical spelling is 128 lowercase hex digits without 0x: what Besu's
/// NodeSmartContractV2PermissioningController sends, and the only form Consortium registers, so a
/// stored id is found with one hash of what Besu asks about.
library EnodeIds {
    function isCanonical(bytes memory id) internal pure returns (bool) {
        if (id.length != 128) return false;
        for (uint256 i = 0; i < 128; ++i) {
            bytes1 c = id[i];
            if (!((c >= "0" && c <= "9") || (c >= "a" && c <= "f"))) return false;
        }
        return true;
    }

    /// @dev The canonical spelling of an id written with uppercase digits and/or a 0x prefix;
    /// `ok` false for anything else. Never reverts.
    function fold(bytes calldata id) internal pure returns (bytes memory folded, bool ok) {
        uint256 len = id.length;
        if (len != 128 && (len != 130 || id[0] != "0" || (id[1] != "x" && id[1] != "X"))) return (folded, false);
        folded = new bytes(128);
        uint256 start = len - 128;
        unchecked {
            for (uint256 i = 0; i < 128; ++i) {
                uint8 c = uint8(id[start + i]);
                if (c >= 0x41 && c <= 0x46) c += 32; // A-F
                else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return (folded, false); // 0-9, a-f
                folded[i] = bytes1(c);
            }
        }
        ok = true;
    }
}
