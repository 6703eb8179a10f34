// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title The data-window Merkle tree, on chain: the same definition as lib/merkle.ts.
/// @notice leaf = sha256(0x00 || leafBytes), inner node = sha256(0x01 || left || right): the
/// Merkle Tree Hash of RFC 6962 / RFC 9162. The prefixes keep leaves and inner nodes apart.
/// Pairs are positional (not sorted): a proof carries the leaf's index and is checked against the
/// tree's leaf count, so a hash verifies only at the one position it occupies, and a contiguous
/// run of leaves can be proven complete. The last node of an odd level is promoted unpaired,
/// never duplicated (CVE-2012-2459). A one-leaf tree's root is that leaf's hash. The root does not
/// commit to the leaf count: take the count from where the root is anchored, never from a prover.
/// Proof siblings run bottom-up and skip the levels where the node was promoted. A multi-proof
/// lists, level by level and left to right, the nodes not computable from the given leaves.
/// @dev OpenZeppelin's MerkleProof hashes pairs commutatively (sorted), hence this small library.
/// Malformed proofs make the functions return false/zero rather than revert, so views built on
/// them answer "not verified" for any input.
library Sha256Merkle {
    /// @return sha256(0x00 || data)
    function leafHash(bytes memory data) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), data));
    }

    /// @return sha256(0x01 || left || right)
    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /// @notice The root that `proof` leads to from `leaf` at `index` of a `leafCount`-leaf tree.
    /// @return ok false when the proof cannot belong to such a tree (index outside it, too few or
    /// too many siblings)
    /// @return root the computed root (meaningful only when ok)
    function processProof(
        bytes32 leaf,
        uint256 index,
        uint256 leafCount,
        bytes32[] calldata proof
    ) internal pure returns (bool ok, bytes32 root) {
        if (index >= leafCount) return (false, 0);
        uint256 k;
        uint256 last = leafCount - 1;
        root = leaf;
        while (last != 0) {
            if (index & 1 == 1) {
                if (k == proof.length) return (false, 0);
                root = nodeHash(proof[k++], root);
            } else if (index != last) {
                if (k == proof.length) return (false, 0);
                root = nodeHash(root, proof[k++]);
            } // else: the level's last node, unpaired, promoted as it is
            index >>= 1;
            last >>= 1;
        }
        ok = k == proof.length;
    }

    /// @return true when `proof` shows `leaf` at `index` in the `leafCount`-leaf tree with `root`.
    function verify(
        bytes32[] calldata proof,
        bytes32 root,
        bytes32 leaf,
        uint256 index,
        uint256 leafCount
    ) internal pure returns (bool) {
        (bool ok, bytes32 computed) = processProof(leaf, index, leafCount, proof);
        return ok && computed == root;
    }

    /// @notice The root that a multi-proof leads to from `leaves` at `indices` (strictly
    /// increasing) of a `leafCount`-leaf tree.
    /// @return ok false when malformed (no leaves, length mismatch, indices not strictly
    /// increasing or outside the tree, wrong number of proof nodes)
    /// @return root the computed root (meaningful only when ok)
    function processMultiProof(
        uint256[] memory indices,
        bytes32[] memory leaves,
        uint256 leafCount,
        bytes32[] memory proof
    ) internal pure returns (bool ok, bytes32 root) {
        uint256 n = indices.length;
        if (n == 0 || leaves.length != n) return (false, 0);
        // Work on copies: the reduction overwrites its arrays in place.
        uint256[] memory pos = new uint256[](n);
        bytes32[] memory hashes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            uint256 index = indices[i];
            if (index >= leafCount || (i != 0 && index <= pos[i - 1])) return (false, 0);
            pos[i] = index;
            hashes[i] = leaves[i];
        }
        return _reduce(pos, hashes, leafCount - 1, proof);
    }

    /// @dev Hashes the known nodes (`pos`, `hashes`, strictly increasing positions) up to the
    /// root, level by level, in place: each step consumes one or two known nodes and writes their
    /// parent at m <= i. `last` is the position of the level's last node.
    function _reduce(
        uint256[] memory pos,
        bytes32[] memory hashes,
        uint256 last,
        bytes32[] memory proof
    ) private pure returns (bool, bytes32) {
        uint256 n = pos.length;
        uint256 k;
        while (last != 0) {
            uint256 m;
            for (uint256 i; i < n; ++m) {
                uint256 p = pos[i];
                bytes32 h = hashes[i];
                if (p & 1 == 1) {
                    // A known left sibling would already have been paired with this node.
                    if (k == proof.length) return (false, 0);
                    h = nodeHash(proof[k++], h);
                    ++i;
                } else if (p == last) {
                    ++i; // promoted unpaired
                } else if (i + 1 < n && pos[i + 1] == p + 1) {
                    h = nodeHash(h, hashes[i + 1]);
                    i += 2;
                } else {
                    if (k == proof.length) return (false, 0);
                    h = nodeHash(h, proof[k++]);
                    ++i;
                }
                pos[m] = p >> 1;
                hashes[m] = h;
            }
            n = m;
            last >>= 1;
        }
        return (k == proof.length, hashes[0]);
    }

    /// @return true when `leaves` sit at `indices` in the `leafCount`-leaf tree with `root`.
    function verifyMulti(
        bytes32[] memory proof,
        bytes32 root,
        uint256[] memory indices,
        bytes32[] memory leaves,
        uint256 leafCount
    ) internal pure returns (bool) {
        (bool ok, bytes32 computed) = processMultiProof(indices, leaves, leafCount, proof);
        return ok && computed == root;
    }
}
