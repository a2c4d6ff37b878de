"""Integrations: teamrec inside the tools people already work in (Slack; Spark later).

Each integration sits on top of the library and the service layer and is installed as an
extra (``pip install 'teamrec[slack]'``); importing teamrec never imports them.
"""
