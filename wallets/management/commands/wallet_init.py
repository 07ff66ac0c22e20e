"""`manage.py wallet_init --generate | --from-env | --from-file PATH [--force]`

Sets up the deployment's HD wallet root (docs/wallets.md):

* `--generate` makes a new 24-word mnemonic, stores it encrypted and prints it this once;
* `--from-env` imports FLUXA_WALLET_MNEMONIC (or the file FLUXA_WALLET_MNEMONIC_FILE names);
* `--from-file PATH` imports the mnemonic in PATH (`-` reads standard input).

Importing the root that is already there changes nothing. A different root is replaced only
with --force. Besides the one --generate printout, the words are never printed or logged.
"""

from __future__ import annotations

import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from chains.derivation import InvalidMnemonic
from wallets.keys import ENV_MNEMONIC, ENV_MNEMONIC_FILE, mnemonic_from_environment, read_mnemonic_file
from wallets.models import AddressState, DepositAddress, RootOrigin, WalletRoot
from wallets.services import WalletRootConflict, wallet_root_generate, wallet_root_import


class Command(BaseCommand):
    help = "Set up the HD wallet root: generate one (printed once) or import the operator's mnemonic."

    def add_arguments(self, parser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--generate", action="store_true", help="generate a new 24-word mnemonic")
        source.add_argument("--from-env", action="store_true",
                            help=f"import {ENV_MNEMONIC} (or the file {ENV_MNEMONIC_FILE} names)")
        source.add_argument("--from-file", metavar="PATH", help="import the mnemonic in PATH ('-': stdin)")
        parser.add_argument("--force", action="store_true",
                            help="replace an existing root with a different fingerprint (dangerous)")

    def handle(self, *args, generate: bool, from_env: bool, from_file: str | None, force: bool,
               **options) -> None:
        previous = WalletRoot.objects.first()
        if generate:
            self._generate(previous, force)
        else:
            self._import(self._read(from_env, from_file), previous, force)

    # -- sources ------------------------------------------------------------------------------

    def _read(self, from_env: bool, from_file: str | None) -> str:
        try:
            if from_env:
                mnemonic = mnemonic_from_environment()
                if not mnemonic:
                    raise CommandError(f"Neither {ENV_MNEMONIC} nor {ENV_MNEMONIC_FILE} is set.")
                return mnemonic
            if from_file == "-":
                return sys.stdin.read().strip()
            return read_mnemonic_file(from_file)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None

    # -- actions ------------------------------------------------------------------------------

    def _generate(self, previous: WalletRoot | None, force: bool) -> None:
        try:
            generated = wallet_root_generate(force=force)
        except WalletRootConflict as exc:
            raise CommandError(self._conflict_message(exc)) from None
        root = generated.root
        words = generated.mnemonic.split()
        rule = "=" * 72
        self.stdout.write("\n".join([
            rule,
            f"New HD wallet root generated. Fingerprint: {root.fingerprint}",
            "",
            "WRITE THESE 24 WORDS DOWN NOW AND KEEP THEM OFFLINE. They are shown this once;",
            "whoever has them controls every deposit address of this deployment, and without",
            "them (or the database together with FLUXA_ENCRYPTION_KEYS) funds cannot be recovered.",
            "",
            *(f"  {n:2d}-{n + 3:2d}  " + "  ".join(f"{w:<10}" for w in words[n - 1:n + 3]).rstrip()
              for n in range(1, 25, 4)),
            "",
            "In one line:",
            f"  {generated.mnemonic}",
            "",
            "See docs/wallets.md for backup and restore.",
            rule,
        ]))
        self._replaced_note(previous, root)

    def _import(self, mnemonic: str, previous: WalletRoot | None, force: bool) -> None:
        try:
            root, changed = wallet_root_import(mnemonic=mnemonic, force=force, origin=RootOrigin.IMPORTED)
        except InvalidMnemonic as exc:
            raise CommandError(str(exc)) from None
        except WalletRootConflict as exc:
            raise CommandError(self._conflict_message(exc)) from None
        if not changed:
            self.stdout.write(f"The HD wallet root with fingerprint {root.fingerprint} is already set up; "
                              "nothing changed.")
            return
        self.stdout.write(f"Imported the HD wallet root. Fingerprint: {root.fingerprint}")
        self._replaced_note(previous, root)

    # -- messages -----------------------------------------------------------------------------

    def _conflict_message(self, exc: WalletRootConflict) -> str:
        offered = f" The mnemonic given has fingerprint {exc.offered_fingerprint}." if exc.offered_fingerprint else ""
        return (
            f"This deployment already has an HD wallet root with fingerprint {exc.existing_fingerprint}."
            f"{offered} Replacing it makes fluxa forget the keys of every address derived from it: "
            "back its mnemonic up first, then run again with --force."
        )

    def _replaced_note(self, previous: WalletRoot | None, root: WalletRoot) -> None:
        if previous is None or previous.fingerprint == root.fingerprint:
            return
        old = DepositAddress.objects.filter(root_fingerprint=previous.fingerprint)
        held = old.exclude(state=AddressState.FREE).count()
        self.stderr.write(
            f"Replaced the HD wallet root {previous.fingerprint} by {root.fingerprint}. "
            f"{held} deposit address(es) of the old root were handed out; their funds can only be "
            f"moved with the old mnemonic. Its free pooled addresses will not be handed out again."
        )
