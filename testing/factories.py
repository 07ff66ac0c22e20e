import factory

from merchants.models import Merchant


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    email = factory.Sequence(lambda n: f"merchant{n}@example.com")
