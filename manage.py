#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluxa_site.settings")
    from fluxa_site.localenv import use_local_env_unless_configured

    use_local_env_unless_configured()  # a fresh checkout works without any setup
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
